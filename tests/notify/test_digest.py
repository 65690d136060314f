"""The weekly digest: one per receiver per ISO week, sent late rather than skipped, with what changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from sqlalchemy import event

from supportwatch.config.receivers import DigestSettings
from supportwatch.notify.digest import due_week, iso_week
from supportwatch.notify.episodes import FindingState
from supportwatch.notify.jobs import History
from supportwatch.notify.log import DeliveryLog, DeliveryState
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service
from supportwatch.values import Finding, FindingKind, Severity

from .loopback import IMAGE, ROUTE, FakeTime, SlackServer, SmtpServer, make_settings, slack_receiver


def open_service(
    tmp_path: Path, slack: SlackServer, smtp: SmtpServer | None, version: str = "1.3.0", **extra: Any
) -> Service:
    receiver = slack_receiver(slack)
    if smtp is not None:
        receiver["email"] = {"to": ["team@example.com"]}
        extra["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none", "sender": "sw@example.com"}
    deployments = [{"name": "prod-east", "team": "data-platform", "image": IMAGE.format(version)}]
    settings = make_settings(tmp_path, deployments=deployments, receivers=[receiver], routes=ROUTE, **extra)
    service = Service.open(settings)
    fake = FakeTime()
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(datetime(2026, 5, 1, tzinfo=UTC))
    return service


def texts(smtp: SmtpServer) -> list[str]:
    result = []
    for envelope in smtp.recorder.envelopes:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        result.append(parsed.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    return result


def test_one_digest_per_week_on_each_channel_even_when_run_three_times(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    # issue 10: a receiver gets the digest on every channel it configures (it was email only)
    service = open_service(tmp_path, slack_server, smtp_server)
    moments = [
        datetime(2026, 6, 29, 9, tzinfo=UTC),
        datetime(2026, 6, 30, tzinfo=UTC),
        datetime(2026, 7, 5, tzinfo=UTC),
    ]
    reports = [service.digest(moment) for moment in moments]
    service.close()
    assert [r.sent_messages for r in reports] == [2, 0, 0]
    assert len(smtp_server.recorder.envelopes) == 1
    assert len(slack_server.requests) == 1
    assert "weekly digest 2026-W27 for data-platform" in json.dumps(slack_server.requests[0].body)
    [text] = texts(smtp_server)
    assert "weekly digest 2026-W27 for data-platform" in text
    assert "Summary: 1 deployment: 1 behind; 0 with critical findings, 1 with warnings at worst" in text
    assert (
        "prod-east (data-platform): behind (warning), agent 1.3.0, end of maintenance 2026-07-28 (in 29 days)"
        in text
    )
    assert "prod-east: agent 1.3.0 leaves maintenance on 2026-07-28 (in 29 days)" in text


def test_a_week_missed_while_down_is_sent_on_the_next_run(tmp_path: Path, slack_server: SlackServer) -> None:
    service = open_service(tmp_path, slack_server, None)
    service.digest(datetime(2026, 6, 29, 10, tzinfo=UTC), scheduled=True)  # Monday after 09:00: W27
    # down on Monday 2026-07-06 09:00; back on Wednesday
    service.digest(datetime(2026, 7, 8, 12, tzinfo=UTC), scheduled=True)
    service.digest(datetime(2026, 7, 8, 13, tzinfo=UTC), scheduled=True)
    keys = [r.key for r in DeliveryLog(service.engine).records(state=DeliveryState.SENT)]
    service.close()
    assert keys == ["digest:2026-W27", "digest:2026-W28"]
    assert len(slack_server.requests) == 2  # Slack, since the receiver has no email
    assert "weekly digest 2026-W27" in json.dumps(slack_server.requests[0].body)


def test_due_week_before_and_after_the_scheduled_hour() -> None:
    monday_early = datetime(2026, 7, 6, 8, 59, tzinfo=UTC)
    monday_late = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)
    assert due_week(monday_early, weekday="monday", hour=9, tz=UTC) == "2026-W27"
    assert due_week(monday_late, weekday="monday", hour=9, tz=UTC) == "2026-W28"
    assert iso_week(monday_late.date()) == "2026-W28"


def test_the_digest_says_what_changed_and_data_health(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    service = open_service(tmp_path, slack_server, smtp_server)
    service.notify(datetime(2026, 6, 28, 9, tzinfo=UTC))
    service.digest(datetime(2026, 6, 29, 9, tzinfo=UTC))
    service.close()
    upgraded = open_service(tmp_path, slack_server, smtp_server, version="1.6.0")
    upgraded.notify(datetime(2026, 7, 2, 9, tzinfo=UTC))
    stale = Finding(
        kind=FindingKind.SOURCE_STALE,
        severity=Severity.WARNING,
        deployment="",
        team="",
        subject="source-agent-notes",
        dedup_key="source_stale:agent-notes",
        summary="source agent-notes has failed for 3 days",
        remedy="check its URL",
    )
    upgraded.digest(datetime(2026, 7, 6, 9, tzinfo=UTC), health=[stale])
    upgraded.close()
    text = texts(smtp_server)[-1]
    assert "prod-east: behind -> current" in text
    assert "maintenance_ending on prod-east" in text  # resolved
    assert "source_stale: source agent-notes has failed for 3 days" in text


def test_dead_letters_appear_in_the_next_digest_only(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    slack_server.script = ["channel_not_found"]
    service = open_service(tmp_path, slack_server, smtp_server)
    service.notify(datetime(2026, 6, 28, 9, tzinfo=UTC))  # the Slack notice dies at once
    assert {d.state for d in service.dead_letters()} == {"dead"}
    for day in (29, 6, 13):
        service.digest(datetime(2026, 6 if day == 29 else 7, day, 9, tzinfo=UTC))
    service.close()
    first, _, later = texts(smtp_server)[-3:]  # the three digests (the notices went by email too)
    assert "dead-lettered" in first
    assert "channel_not_found" in first
    assert "dead-lettered" not in later  # past the give-up window after the last digest


def test_a_digest_refused_for_one_recipient_is_sent_once_and_reported(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    smtp_server.recorder.refused = {"gone@example.com"}
    service = open_service(tmp_path, slack_server, smtp_server)
    receiver = service.settings.receivers[0]
    assert receiver.email is not None
    receiver.email.to.append("gone@example.com")
    first = service.digest(datetime(2026, 6, 29, 9, tzinfo=UTC))
    again = service.digest(datetime(2026, 6, 29, 10, tzinfo=UTC))
    service.close()
    assert first.sent_messages == 2  # the email and (issue 10) the Slack digest
    assert first.warnings == ["data-platform/email digest:2026-W27: SMTP refused 1 of 2 recipients: "
                              "gone@example.com (550)"]  # fmt: skip
    assert again.sent_messages == 0
    assert len(smtp_server.recorder.envelopes) == 1


def test_a_digest_reports_only_its_own_receivers_dead_letters(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    slack_server.script = ["channel_not_found"]
    service = open_service(tmp_path, slack_server, smtp_server)
    service.notify(datetime(2026, 6, 28, 9, tzinfo=UTC))  # data-platform's Slack notice dies
    since = datetime(2026, 6, 27, tzinfo=UTC)
    jobs = service.notifications()
    dead = jobs.log.records(state=DeliveryState.DEAD)
    own = jobs._dead_letters("data-platform", since=since, dead=dead)
    other = jobs._dead_letters("analytics", since=since, dead=dead)
    service.close()
    assert own and all("data-platform/slack" in line for line in own)
    assert other == []  # another team's digest never shows this team's failures


def test_a_receiver_may_take_its_digest_by_email_only(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    service = open_service(tmp_path, slack_server, smtp_server)
    receiver = service.settings.receivers[0].model_copy(update={"digest": DigestSettings(channels=["email"])})
    service.settings = service.settings.model_copy(update={"receivers": [receiver]})
    report = service.digest(datetime(2026, 6, 29, 9, tzinfo=UTC))
    again = service.digest(datetime(2026, 6, 30, 9, tzinfo=UTC))
    service.close()
    assert (report.sent_messages, again.sent_messages) == (1, 0)
    assert len(smtp_server.recorder.envelopes) == 1
    assert slack_server.requests == []


def test_a_digest_run_reads_the_finding_history_once_for_all_its_targets(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    service = open_service(tmp_path, slack_server, smtp_server)  # two targets: Slack and email
    service.notify(datetime(2026, 6, 28, 9, tzinfo=UTC))
    reads: list[str] = []

    def history_reads(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT") and "FROM finding_state" in statement and "CAST" not in statement:
            reads.append(statement)

    event.listen(service.engine, "before_cursor_execute", history_reads)
    try:
        report = service.digest(datetime(2026, 6, 29, 9, tzinfo=UTC))
    finally:
        event.remove(service.engine, "before_cursor_execute", history_reads)
        service.close()
    assert report.sent_messages == 2
    assert len(reads) == 2  # opened and resolved, once each (it was twice per target)


def test_each_target_keeps_the_history_inside_its_own_window() -> None:
    def state(key: str, deployment: str, opened: datetime, resolved: datetime | None) -> FindingState:
        return FindingState(key, "maintenance_ending", deployment, "team", {}, opened, resolved, False)

    early, late = datetime(2026, 6, 29, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    history = History(
        opened=[
            state("a", "prod-east", datetime(2026, 6, 30, tzinfo=UTC), None),
            state("b", "prod-east", datetime(2026, 7, 2, tzinfo=UTC), None),
            state("c", "prod-west", datetime(2026, 7, 2, tzinfo=UTC), None),
        ],
        ended=[
            state("d", "prod-east", early, datetime(2026, 6, 30, tzinfo=UTC)),
            state("e", "prod-east", early, datetime(2026, 7, 3, tzinfo=UTC)),
        ],
    )
    east = {"prod-east"}
    assert [s.dedup_key for s in history.opened_since(early, east)] == ["a", "b"]
    assert [s.dedup_key for s in history.opened_since(late, east)] == ["b"]
    assert [s.dedup_key for s in history.ended_since(early, east)] == ["d", "e"]
    assert [s.dedup_key for s in history.ended_since(late, east)] == ["e"]
    assert [s.dedup_key for s in history.opened_since(late, {"prod-west"})] == ["c"]
