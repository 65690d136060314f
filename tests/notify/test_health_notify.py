"""Data health goes to someone: ``source_stale`` and ``date_conflict`` reach the data-health
receiver once per episode, and a "resolved" notice when they clear."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportwatch.config import load_settings
from supportwatch.errors import ConfigError
from supportwatch.notify.delivery import DeliveryReport
from supportwatch.notify.log import DeliveryLog
from supportwatch.notify.slack_blocks import validate
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service
from supportwatch.values import Finding, FindingKind, Severity

from .loopback import ROUTE, WEBHOOK_PATH, FakeTime, SlackServer, make_settings, slack_receiver

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)  # agent 1.3 ends 2026-07-28: the team hears of rung 60


def stale(name: str = "agent-notes") -> Finding:
    return Finding(
        kind=FindingKind.SOURCE_STALE,
        severity=Severity.WARNING,
        deployment="",
        team="",
        subject=name,
        dedup_key=f"source_stale:{name}",
        summary=f"source {name!r} failed 3 polls in a row (last success: never)",
        remedy=f"Check source {name!r}: its url, network and token; the last good data is kept.",
    )


def open_service(tmp_path: Path, server: SlackServer, **extra: Any) -> Service:
    receivers = [slack_receiver(server, "webhook"), slack_receiver(server, "bot", name="ops")]
    settings = make_settings(tmp_path, receivers=receivers, routes=ROUTE, **extra)
    service = Service.open(settings)
    fake = FakeTime()
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(T0)
    return service


def notify(service: Service, now: datetime, health: list[Finding] | None) -> DeliveryReport:
    """What ``Service.notify`` does once it passes ``health=self.health_findings(now)``."""
    return service.notifications().notify(service.evaluate(now), now=now, health=health)


def bot_posts(server: SlackServer) -> list[dict[str, Any]]:
    return [request.body for request in server.requests if request.path == "/api/chat.postMessage"]


def test_a_stale_source_is_told_once_to_the_data_health_receiver_then_resolved(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server, data_health_receiver="ops")
    first = notify(service, T0, [stale()])
    again = notify(service, T0 + timedelta(hours=1), [stale()])
    unknown = notify(service, T0 + timedelta(hours=2), None)  # a run that knows nothing of sources
    cleared = notify(service, T0 + timedelta(hours=3), [])
    ops = [r.key for r in DeliveryLog(service.engine).records(target="ops/slack")]
    service.close()
    assert (again.sent_keys, unknown.sent_keys, cleared.sent_keys) == (0, 0, 1)
    assert first.sent_messages == 2  # the team's rung-60 notice, and ops' stale source
    assert ops == ["source_stale:agent-notes", "resolved:source_stale:agent-notes"]
    told, resolved = bot_posts(slack_server)
    [team] = [r.body for r in slack_server.requests if r.path == WEBHOOK_PATH]
    assert "agent-notes" not in json.dumps(team)  # the team hears nothing of it
    for body in (told, resolved):
        validate(body)
    assert "Data health: Source stale" in json.dumps(told)
    assert "Resolved: Source stale (agent-notes)" in resolved["text"]
    assert resolved["thread_ts"] == "1785000000.000001"  # in the thread of the first


def test_data_health_goes_to_the_default_receiver_unless_configured(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server, default_receiver="data-platform")
    notify(service, T0, [stale()])
    service.close()
    [request] = slack_server.requests  # with the team's own notice: one message
    assert request.path == WEBHOOK_PATH
    assert "Source stale (agent-notes)" in request.body["text"]


def test_an_unknown_data_health_receiver_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("data_health_receiver: nobody\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.path == "data_health_receiver"
    assert "'nobody' is not a receiver; known: console" in str(caught.value)


def test_a_date_conflict_is_told_once_per_set_of_facts(tmp_path: Path, slack_server: SlackServer) -> None:
    conflict = Finding(
        kind=FindingKind.DATE_CONFLICT,
        severity=Severity.WARNING,
        deployment="",
        team="",
        subject="agent 1.6.0",
        dedup_key="date_conflict:agent:1.6.0:a=2026-04-16,b=2026-04-20",
        summary="sources disagree on the release date of agent 1.6.0",
        remedy="Check the vendor's page.",
    )
    service = open_service(tmp_path, slack_server, data_health_receiver="ops")
    reports = [notify(service, T0 + timedelta(hours=hour), [conflict, stale()]) for hour in range(3)]
    service.close()
    assert [report.sent_keys for report in reports] == [4, 0, 0]  # 2 to the team, 2 to ops
    [post] = bot_posts(slack_server)  # both in one message
    assert "Date conflict" in json.dumps(post) and "Source stale" in json.dumps(post)
    assert make_settings(tmp_path).data_health_receiver is None
