"""Threads: a finding's reminders, repeats and resolution reply to its first message — in Slack
(a bot token: ``thread_ts``) and by email (``In-Reply-To`` / ``References``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from supportwatch.config import SlackSettings
from supportwatch.notify.log import DeliveryLog, DeliveryState
from supportwatch.notify.message import Message, thread_key
from supportwatch.notify.pacing import RateLimiter
from supportwatch.notify.slack import SlackNotifier
from supportwatch.notify.slack_blocks import validate
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service

from .fleet import digest
from .loopback import (
    BOT_TOKEN,
    IMAGE,
    ROUTE,
    FakeTime,
    SlackServer,
    SmtpServer,
    clock,
    make_settings,
    slack_receiver,
)


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)


def open_service(
    tmp_path: Path,
    slack: SlackServer | None,
    smtp: SmtpServer | None = None,
    *,
    version: str = "1.3.0",
    kind: str = "bot",
) -> Service:
    receiver: dict[str, Any] = slack_receiver(slack, kind) if slack is not None else {"name": "data-platform"}
    extra: dict[str, Any] = {}
    if smtp is not None:
        receiver["email"] = {"to": ["team@example.com"]}
        extra["smtp"] = {
            "host": smtp.host,
            "port": smtp.port,
            "security": "none",
            "sender": "sw@example.com",
            "sender_name": "Agent Watch",
        }
    deployments = [{"name": "prod-east", "team": "data-platform", "image": IMAGE.format(version)}]
    settings = make_settings(tmp_path, deployments=deployments, receivers=[receiver], routes=ROUTE, **extra)
    service = Service.open(settings)
    fake = FakeTime()
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(at("2026-05-01"))
    return service


def emails(smtp: SmtpServer) -> list[EmailMessage]:
    return [
        message_from_bytes(e.original_content or b"", policy=policy.default) for e in smtp.recorder.envelopes
    ]


def test_reminders_repeats_and_the_resolution_reply_in_the_first_messages_thread(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server)
    for day in ("2026-05-29", "2026-06-28", "2026-07-28", "2026-08-04"):
        service.notify(at(day))  # rung 60, rung 30, end of maintenance, its first repeat
    service.close()
    upgraded = open_service(tmp_path, slack_server, version="1.6.0")
    upgraded.notify(at("2026-08-05"))  # resolved
    rows = DeliveryLog(upgraded.engine).records(state=DeliveryState.SENT)
    upgraded.close()
    first, rung30, ended, repeat, resolved = (request.body for request in slack_server.requests)
    for body in (first, rung30, ended, repeat, resolved):
        validate(body)
    assert "thread_ts" not in first
    root = "1785000000.000001"  # the ts the loopback server gave the first post
    assert [body.get("thread_ts") for body in (rung30, ended, repeat, resolved)] == [root] * 4
    assert ended.get("reply_broadcast") is True  # a new critical fact shows in the channel too
    assert "reply_broadcast" not in repeat and "reply_broadcast" not in rung30
    assert "Resolved: End of maintenance on prod-east" in resolved["text"]
    assert "reminder 1" in repeat["text"]
    # every row records the message that carried it; the maintenance family is one thread
    maintenance = thread_key("maintenance_ending", "maintenance_ending:prod-east:agent-1.3:rung-60")
    assert maintenance == thread_key("end_of_maintenance", "end_of_maintenance:prod-east:agent-1.3")
    assert all(row.thread and row.external_id for row in rows)
    [rung60] = [row for row in rows if row.key.endswith("rung-60")]
    assert (rung60.thread, rung60.external_id) == (maintenance, root)


def test_a_webhook_cannot_thread_so_every_post_is_top_level(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server, kind="webhook")
    for day in ("2026-05-29", "2026-06-28", "2026-07-28"):
        service.notify(at(day))
    service.close()
    assert len(slack_server.requests) == 3
    assert all("thread_ts" not in request.body for request in slack_server.requests)


def test_a_finding_that_came_back_starts_a_thread_of_its_own(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    broken = open_service(tmp_path, slack_server)
    broken.notify(at("2026-07-29"))
    broken.close()
    fixed = open_service(tmp_path, slack_server, version="1.6.0")
    fixed.notify(at("2026-07-30"))
    fixed.close()
    again = open_service(tmp_path, slack_server)
    again.notify(at("2026-07-31"))  # the same facts, a new episode: a new first message
    again.close()
    first, resolved, back = (request.body for request in slack_server.requests)
    assert "thread_ts" not in first
    assert resolved["thread_ts"] == "1785000000.000001"
    assert "thread_ts" not in back


def test_email_follow_ups_reply_to_the_first_email(tmp_path: Path, smtp_server: SmtpServer) -> None:
    service = open_service(tmp_path, None, smtp_server)
    service.notify(at("2026-05-29"))  # rung 60
    service.notify(at("2026-06-28"))  # rung 30
    service.close()
    upgraded = open_service(tmp_path, None, smtp_server, version="1.6.0")
    upgraded.notify(at("2026-06-29"))  # resolved
    upgraded.close()
    first, reminder, resolved = emails(smtp_server)
    root = str(first["Message-ID"])
    assert first["In-Reply-To"] is None
    for follow_up in (reminder, resolved):
        assert str(follow_up["In-Reply-To"]) == root
        assert str(follow_up["References"]) == root
        assert str(follow_up["Subject"]) == f"Re: {first['Subject']}"  # Gmail threads on the subject too
        assert str(follow_up["Message-ID"]) != root
    for email in (first, reminder, resolved):
        assert str(email["Auto-Submitted"]) == "auto-generated"
        assert str(email["From"]) == "Agent Watch <sw@example.com>"


def test_a_long_digest_continues_in_the_thread_of_its_first_message(slack_server: SlackServer) -> None:
    fake = FakeTime()
    settings = SlackSettings(token=SecretStr(BOT_TOKEN), channel="#agents", api_url=slack_server.api_url)
    notifier = SlackNotifier(settings, limiter=RateLimiter(clock=fake.clock, sleep=fake.sleep), now=clock)
    outcome = notifier.send(Message("data-platform", digest=digest(400)))
    assert outcome.ok
    assert outcome.external_id == "1785000000.000001"
    first, *rest = (request.body for request in slack_server.requests)
    assert rest
    assert "thread_ts" not in first
    assert {body["thread_ts"] for body in rest} == {"1785000000.000001"}
    assert fake.sleeps == [1.0] * len(rest)  # paced: one message per second
