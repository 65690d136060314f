"""The built-in console receiver: a run's notices in parts of at most 50 deployments, each
deployment's notices together, every notice written once."""

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
    # 120 deployments with 1 to 3 notices each, interleaved, and two data-health notices ("")
    notices = [
        notice(f"d{n:03d}", kind)
        for kind in ("a", "b", "c")
        for n in range(120)
        if n % 3 >= "abc".index(kind)
    ]
    notices += [notice("", "source_unreachable"), notice("", "source_stale")]
    chunks = console_chunks(notices)
    # 121 groups (120 deployments and data health): 50, 50, 21
    assert [len({item.deployment for item in chunk}) for chunk in chunks] == [50, 50, 21]
    assert Counter(item.dedup_key for chunk in chunks for item in chunk) == Counter(
        n.dedup_key for n in notices
    )
    where = {item.deployment: index for index, chunk in enumerate(chunks) for item in chunk}
    for index, chunk in enumerate(chunks):
        assert all(where[item.deployment] == index for item in chunk)
    assert {item.deployment for item in chunks[0]} == {f"d{n:03d}" for n in range(50)}
    assert console_chunks([]) == []


def test_a_small_run_is_one_console_message() -> None:
    notices = [notice(f"d{n}", "a") for n in range(DEPLOYMENTS_PER_MESSAGE)]
    assert console_chunks(notices) == [tuple(notices)]


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
