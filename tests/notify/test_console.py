"""The built-in console receiver: a run's notices in parts of at most 50 deployments, each
deployment's notices together, data health and the facts about the fleet said once, in the
first part; every notice written once."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from supportwatch.config import Settings
from supportwatch.notify.console import DEPLOYMENTS_PER_MESSAGE, console_chunks
from supportwatch.notify.message import Notice
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service

from .fleet import AT, fleet_config


def notice(deployment: str, kind: str) -> Notice:
    return Notice(
        status="firing",
        kind=kind,
        severity="warning",
        deployment=deployment,
        team="t",
        summary=f"{kind} on {deployment}",
        remedy="upgrade",
        dedup_key=f"{deployment}:{kind}",
    )


def test_notices_are_split_per_50_deployments_keeping_each_deployments_notices_together() -> None:
    # 120 deployments with 1 to 3 notices each, interleaved, two data-health notices and a fact
    # about the fleet (a newer chart) that 30 deployments share
    notices = [
        notice(f"d{n:03d}", kind)
        for kind in ("a", "b", "c")
        for n in range(120)
        if n % 3 >= "abc".index(kind)
    ]
    notices += [notice(f"d{n:03d}", "chart_behind_latest") for n in range(0, 120, 4)]
    notices += [notice("", "source_stale"), notice("", "date_conflict")]
    chunks = console_chunks(notices)
    named = [{item.deployment for item in chunk if item.kind in "abc"} for chunk in chunks]
    assert [len(names) for names in named] == [50, 50, 20]
    assert Counter(item.dedup_key for chunk in chunks for item in chunk) == Counter(
        n.dedup_key for n in notices
    )
    parts: dict[str, set[int]] = {}
    for index, chunk in enumerate(chunks):
        for item in chunk:
            if item.kind in "abc":
                parts.setdefault(item.deployment, set()).add(index)
    assert len(parts) == 120 and all(len(found) == 1 for found in parts.values())
    # data health and the fleet's fact: all of them in the first part, said there once
    others = Counter(item.kind for item in chunks[0] if item.kind not in "abc")
    assert others == {"source_stale": 1, "date_conflict": 1, "chart_behind_latest": 30}
    assert {item.kind for chunk in chunks[1:] for item in chunk} == {"a", "b", "c"}
    assert console_chunks([]) == []


def test_a_small_run_is_one_console_message() -> None:
    notices = [notice(f"d{n}", "a") for n in range(DEPLOYMENTS_PER_MESSAGE)]
    [chunk] = console_chunks(notices)
    assert sorted(chunk, key=lambda item: int(item.deployment[1:])) == notices


def test_a_fleets_first_run_reaches_the_console_in_numbered_parts(tmp_path: Path) -> None:
    # 120 deployments, 660 findings, no receiver configured: everything goes to the console
    settings = Settings.model_validate(fleet_config(f"sqlite:///{tmp_path / 'sw.db'}"))
    written: list[str] = []
    service = Service.open(settings)
    service.notify_runtime = NotifyRuntime(console=written.append)
    service.apply_static(AT)
    report = service.notify(AT)
    service.close()
    assert report.ok and report.sent_keys == 660
    assert [re.search(r"\(message (\d) of (\d)\)", text).groups() for text in written] == [  # type: ignore[union-attr]
        ("1", "3"),
        ("2", "3"),
        ("3", "3"),
    ]
    named = Counter(name for text in written for name in re.findall(r"^((?:east|west)-\d{3}) \(", text, re.M))
    assert len(named) == 120 and set(named.values()) == {1}
    # the facts about the fleet (a newer chart, a new major) are said once, in the first part
    assert [text.count("Across the fleet:") for text in written] == [1, 0, 0]
