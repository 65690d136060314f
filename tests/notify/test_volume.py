"""Volume: a run's notices to one channel packed into few messages, every payload one slack_sdk's
block models accept, every message within Slack's limits — for every kind of message."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError

from supportwatch.config import Settings
from supportwatch.notify.message import Message, Notice, Overview
from supportwatch.notify.slack_blocks import (
    SLACK_MAX_BLOCKS,
    SLACK_MESSAGE_CHARS,
    SLACK_SECTION_CHARS,
    SLACK_TEXT_CHARS,
    size,
    slack_chunks,
    slack_payloads,
    validate,
)
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service

from .fleet import AT, digest, fleet_config, varied_config
from .loopback import FakeTime, SlackServer, slack_receiver

ROUTE = [{"match": {"team": "data-platform"}, "receiver": "data-platform"}]


def within_limits(payload: dict[str, Any]) -> None:
    validate(payload)
    blocks = payload["blocks"]
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert size(blocks) <= SLACK_MESSAGE_CHARS
    assert len(payload["text"]) <= SLACK_TEXT_CHARS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SLACK_SECTION_CHARS


def run_fleet(
    tmp_path: Path, server: SlackServer, raw: dict[str, Any]
) -> tuple[Service, list[dict[str, Any]]]:
    settings = Settings.model_validate(
        {
            **raw,
            "receivers": [slack_receiver(server, "bot")],
            "routes": ROUTE,
            "web": {"public_url": "https://supportwatch.example.com/"},
        }
    )
    service = Service.open(settings)
    fake = FakeTime()
    server.clock = fake.clock
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(AT)
    report = service.notify(AT)
    assert report.ok
    assert report.sent_keys == 660
    return service, [request.body for request in server.requests]


@pytest.mark.parametrize("config", [fleet_config, varied_config], ids=["alike", "all-different"])
def test_120_deployments_with_660_findings_take_at_most_8_messages(
    tmp_path: Path, slack_server: SlackServer, config: Any
) -> None:
    service, bodies = run_fleet(tmp_path, slack_server, config(f"sqlite:///{tmp_path / 'sw.db'}"))
    reports = service.evaluate(AT)
    service.close()
    assert sum(len(report.findings) for report in reports) == 660
    per_channel = Counter(request.body["channel"] for request in slack_server.requests)
    assert per_channel == {"#agent-alerts": len(bodies)}
    assert len(bodies) <= 8
    times = [request.at for request in slack_server.requests]
    assert all(later - earlier >= 1.0 for earlier, later in pairwise(times))
    for body in bodies:
        within_limits(body)
    text = [json.dumps(body) for body in bodies]
    # the first message opens with the run's overview
    assert "*120 deployments affected*" in text[0]
    # facts about the fleet are said once, listing the deployments
    assert sum("Chart 2.3.3 is the newest chart" in item for item in text) == 1
    major = sum("Agent major 2 is available (2.0.0)" in item for item in text)
    assert major == (1 if config is fleet_config else 0)  # unseen patches: no new major is known
    # every deployment is in some message; linked to its page while a section has room for links
    for report in reports:
        name = report.deployment.name
        assert any(name in item for item in text), name
    linked = sum(f"deployments/{r.deployment.name}|" in item for r in reports for item in text)
    assert linked == 120 if config is varied_config else linked >= 30


def test_the_worst_comes_first_inside_a_message(tmp_path: Path, slack_server: SlackServer) -> None:
    service, bodies = run_fleet(tmp_path, slack_server, varied_config(f"sqlite:///{tmp_path / 'sw.db'}"))
    service.close()
    ranks = {":red_circle:": 3, ":large_orange_circle:": 2, ":large_blue_circle:": 1}
    for body in bodies:
        for block in body["blocks"]:
            if block["type"] != "section" or "deployments/" not in block["text"]["text"]:
                continue
            lines = block["text"]["text"].split("\n")[1:]
            seen = [rank for line in lines for mark, rank in ranks.items() if line.startswith(mark)]
            assert seen == sorted(seen, reverse=True), lines


# --- every kind of message, as slack_sdk's models see it ---------------------------------


def notice(name: str = "prod-east", **changes: Any) -> Notice:
    values: dict[str, Any] = {
        "status": "firing",
        "kind": "end_of_maintenance",
        "severity": "critical",
        "deployment": name,
        "team": "data-platform",
        "summary": f"{name} runs agent 1.3.0; agent 1.3 left maintenance on 2026-07-28 (2 days ago)",
        "remedy": "Upgrade the chart from 2.0.0 to 2.1.0; then move to agent 1.7.0: images.astronomer.cloud/"
        "baseimages/astro-remote-execution-agent:3.2-4-python-3.12-astro-agent-1.7.0",
        "dedup_key": f"end_of_maintenance:{name}:agent-1.3",
        "end_of_maintenance": date(2026, 7, 28),
        "days_left": -2,
        "state": "unmaintained (critical)",
        "end": "2026-07-28",
        "subject": "agent-1.3",
        "target": "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.2-4-python-3.12-astro-agent-1.7.0",
        "plan": ("Upgrade the chart", "Deploy the image"),
        "url": f"https://supportwatch.example.com/deployments/{name}",
        "thread": f"maintenance:{name}:agent-1.3",
    }
    values.update(changes)
    return Notice(**values)


MAJOR: dict[str, Any] = {"kind": "new_major_available", "severity": "info", "subject": "agent-1->2.0.0"}
STALE: dict[str, Any] = {"kind": "source_stale", "severity": "warning", "deployment": "", "team": "", "subject": "agent-notes",
         "summary": "source 'agent-notes' failed 3 polls in a row", "remedy": "Check its url",
         "dedup_key": "source_stale:agent-notes", "state": None, "end": None, "target": None, "plan": (),
         "url": None}  # fmt: skip
KINDS: dict[str, Message] = {
    "one notice": Message("data-platform", notices=(notice(),)),
    "several deployments": Message("data-platform", notices=tuple(notice(f"dep-{i}") for i in range(12))),
    "fleet fact": Message(
        "data-platform",
        notices=(notice("a", **MAJOR), notice("b", **MAJOR), notice("a", kind="runtime_skew")),
    ),
    "data health": Message("ops", notices=(notice(**STALE),)),
    "resolved": Message(
        "data-platform", notices=(notice(status="resolved"), notice("x", status="resolved", **STALE))
    ),
    "repeat in a thread": Message(
        "data-platform",
        notices=(notice(repeat=2),),
        thread="1785000000.000001",
        thread_subject="[supportwatch] x",
    ),
    "a later part": Message("data-platform", notices=(notice(),), part=2, parts=3),
    "a first part": Message(
        "data-platform", notices=(notice(),), part=1, parts=3, overview=Overview(deployments=40, critical=90)
    ),
    "hostile text": Message(
        "data-platform", notices=(notice("<!channel> & *bold* <https://x|y>" + "&" * 4000),)
    ),
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_of_notice_message_is_valid_block_kit(name: str) -> None:
    [payload] = slack_payloads(KINDS[name])
    within_limits(payload)
    assert payload["blocks"][0]["type"] == "header"


@pytest.mark.parametrize("deployments", [0, 3, 120, 400])
def test_the_digest_is_block_kit_in_as_many_messages_as_it_needs(deployments: int) -> None:
    payloads = slack_payloads(Message("data-platform", digest=digest(deployments)))
    for payload in payloads:
        within_limits(payload)
    first = payloads[0]["blocks"]
    assert first[0]["type"] == "header"
    assert first[1]["text"]["text"].startswith("*Summary:*")
    text = json.dumps(payloads)
    for index in range(deployments):
        assert f"deployment-{index:04d}" in text  # every routed deployment
    assert (len(payloads) > 1) is (deployments >= 120)


def test_validate_refuses_what_slack_refuses() -> None:
    with pytest.raises(SlackObjectFormationError):
        validate({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]})
    with pytest.raises(ValueError, match="not a Block Kit block"):
        validate({"blocks": [{"type": "no-such-block"}]})


def test_a_deployment_too_big_for_one_message_is_cut_and_each_part_sent_alone() -> None:
    huge = tuple(
        notice("big", kind=f"kind_{index}", dedup_key=f"k{index}", summary="s" * 2900) for index in range(12)
    )
    small = (notice("small"),)
    chunks = slack_chunks([*huge, *small])
    assert sorted(n.dedup_key for chunk in chunks for n in chunk) == sorted(
        n.dedup_key for n in (*huge, *small)
    )
    assert len(chunks) >= 3
    for index, chunk in enumerate(chunks, start=1):
        [payload] = slack_payloads(Message("r", notices=chunk, part=index, parts=len(chunks)))
        within_limits(payload)
