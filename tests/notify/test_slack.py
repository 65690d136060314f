"""Slack delivery against a Slack-compatible server on 127.0.0.1: retries as classified, no leaks."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service

from .loopback import BOT_TOKEN, ROUTE, WEBHOOK_PATH, FakeTime, SlackServer, make_settings, slack_receiver

AT = datetime(2026, 6, 28, 9, tzinfo=UTC)  # agent 1.3 ends 2026-07-28: the 30-day rung


def open_service(
    tmp_path: Path, server: SlackServer, kind: str = "webhook", **notify: Any
) -> tuple[Service, FakeTime]:
    settings = make_settings(
        tmp_path,
        receivers=[slack_receiver(server, kind)],
        routes=ROUTE,
        notify={"retry_backoff_seconds": 1, "retry_backoff_max_seconds": 30, **notify},
    )
    fake = FakeTime()
    service = Service.open(settings)
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(AT)
    return service, fake


@pytest.fixture
def leaks(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert WEBHOOK_PATH not in text
        assert "XXXXSECRET" not in text
        assert BOT_TOKEN not in text


@pytest.mark.parametrize("kind", ["webhook", "bot"])
def test_delivers_block_kit_with_fallback(tmp_path: Path, slack_server: SlackServer, kind: str) -> None:
    service, _ = open_service(tmp_path, slack_server, kind)
    report = service.notify(AT)
    service.close()
    assert report.ok
    [request] = slack_server.requests
    assert request.body["blocks"][0]["type"] == "header"
    assert "prod-east" in request.body["text"]
    assert "2026-07-28 (in 30 days)" in json.dumps(request.body)
    if kind == "bot":
        assert request.path == "/api/chat.postMessage"
        assert request.body["channel"] == "#agent-alerts"
        assert request.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    else:
        assert request.path == WEBHOOK_PATH


@pytest.mark.parametrize("kind", ["webhook", "bot"])
def test_429_honours_retry_after(tmp_path: Path, slack_server: SlackServer, kind: str) -> None:
    service, fake = open_service(tmp_path, slack_server, kind)
    slack_server.script = ["429:7"]
    report = service.notify(AT)
    service.close()
    assert report.ok
    assert len(slack_server.requests) == 2
    assert 7.0 in fake.sleeps


@pytest.mark.parametrize("kind", ["webhook", "bot"])
def test_5xx_and_dropped_connections_retry_with_backoff(
    tmp_path: Path, slack_server: SlackServer, kind: str, leaks: pytest.LogCaptureFixture
) -> None:
    service, fake = open_service(tmp_path, slack_server, kind)
    slack_server.script = ["500", "close"]
    report = service.notify(AT)
    service.close()
    assert report.ok
    assert len(slack_server.requests) == 3
    assert fake.sleeps == [1.0, 2.0]
    assert_no_secret(leaks.text)


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_auth", "is_archived", "not_in_channel"])
def test_permanent_errors_are_dead_lettered_at_once(
    tmp_path: Path, slack_server: SlackServer, error: str, leaks: pytest.LogCaptureFixture
) -> None:
    service, fake = open_service(tmp_path, slack_server, "bot")
    slack_server.script = [error]
    report = service.notify(AT)
    assert len(slack_server.requests) == 1
    assert fake.sleeps == []
    assert not report.ok
    assert report.dead
    dead = service.dead_letters()
    assert {row.state for row in dead} == {"dead"}
    assert all(error in (row.last_error or "") for row in dead)
    assert service.notify(AT + timedelta(days=1)).sent_keys == 0
    assert len(slack_server.requests) == 1
    service.close()
    assert_no_secret(leaks.text, *report.dead, *(row.last_error or "" for row in dead))


def test_webhook_errors_are_classified(tmp_path: Path, slack_server: SlackServer) -> None:
    service, _ = open_service(tmp_path, slack_server, "webhook")
    slack_server.script = ["channel_is_archived"]
    report = service.notify(AT)
    service.close()
    assert len(slack_server.requests) == 1
    assert report.dead
    assert "404" in report.dead[0]


def test_transient_failures_retry_across_runs_then_dead_letter(
    tmp_path: Path, slack_server: SlackServer, leaks: pytest.LogCaptureFixture
) -> None:
    service, _ = open_service(tmp_path, slack_server, "webhook", give_up_hours=24, attempts_per_run=2)
    slack_server.script = ["500"] * 100
    first = service.notify(AT)
    assert first.failures
    assert len(slack_server.requests) == 2
    rows = service.notifications().log.records()
    assert {row.state for row in rows} == {"retry"}
    assert all(row.next_attempt_at is not None for row in rows)
    assert service.notify(AT + timedelta(seconds=1)).failures == []  # not due yet: nothing sent
    assert len(slack_server.requests) == 2
    service.notify(AT + timedelta(hours=1))
    assert len(slack_server.requests) == 4
    late = service.notify(AT + timedelta(hours=25))
    assert late.dead
    dead = service.dead_letters()
    assert len(dead) == len(rows)
    assert all(row.attempts == 6 and "500" in (row.last_error or "") for row in dead)
    slack_server.script = []
    assert service.notify(AT + timedelta(hours=26)).sent_keys == 0  # dead stays dead
    service.close()
    assert_no_secret(leaks.text, *(row.last_error or "" for row in dead))


def test_120_alerts_never_exceed_one_request_per_second(tmp_path: Path, slack_server: SlackServer) -> None:
    deployments = [
        {
            "name": f"dep-{i:03d}",
            "team": "data-platform",
            "image": f"images.astronomer.cloud/x/astro-remote-execution-agent:3.1-{i}",  # each its own
        }
        for i in range(120)
    ]
    settings = make_settings(
        tmp_path, deployments=deployments, receivers=[slack_receiver(slack_server)], routes=ROUTE
    )
    fake = FakeTime()
    slack_server.clock = fake.clock
    service = Service.open(settings)
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(AT)
    report = service.notify(AT)
    service.close()
    assert report.sent_keys == 120
    times = [request.at for request in slack_server.requests]
    assert len(times) == report.sent_messages > 1
    assert all(later - earlier >= 1.0 for earlier, later in pairwise(times))


def test_real_clock_rate_limit(tmp_path: Path, slack_server: SlackServer) -> None:
    deployments = [
        {
            "name": f"dep-{i:03d}",
            "team": "data-platform",
            "image": f"images.astronomer.cloud/x/astro-remote-execution-agent:3.1-{i}",  # each its own
        }
        for i in range(80)  # issue 10: 20 notices now fit one message; 80 take several
    ]
    settings = make_settings(
        tmp_path, deployments=deployments, receivers=[slack_receiver(slack_server)], routes=ROUTE
    )
    service = Service.open(settings)
    service.apply_static(AT)
    report = service.notify(AT)
    service.close()
    times = [request.at for request in slack_server.requests]
    assert report.sent_messages == len(times) >= 2
    assert all(later - earlier >= 0.99 for earlier, later in pairwise(times))
