"""Delivery under failure: the SDK's loggers stay quiet, a broken target never stops the others,
nothing stays claimed, and delivery is at least once with email re-sends that fold."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from supportwatch.config import NotifySettings, Settings, SlackSettings
from supportwatch.errors import PermanentDeliveryError
from supportwatch.notify import wiring
from supportwatch.notify.base import Outcome
from supportwatch.notify.delivery import Delivery
from supportwatch.notify.email import EmailNotifier, message_id, render_email
from supportwatch.notify.log import CLAIM_BATCH, DeliveryKey, DeliveryLog, DeliveryState
from supportwatch.notify.message import Message, Notice
from supportwatch.notify.pacing import RateLimiter
from supportwatch.notify.payload import NoticePayload
from supportwatch.notify.plan import Outgoing
from supportwatch.notify.slack import SlackNotifier
from supportwatch.notify.slack_blocks import slack_chunks
from supportwatch.notify.wiring import Integration, NotifyRuntime
from supportwatch.service import Service

from .loopback import (
    ROUTE,
    SMTP_PASSWORD,
    WEBHOOK_PATH,
    FakeTime,
    SlackServer,
    SmtpServer,
    clock,
    make_settings,
    slack_receiver,
)

AT = datetime(2026, 6, 28, 9, tzinfo=UTC)  # agent 1.3 ends 2026-07-28: the 30-day rung
T0 = datetime(2026, 7, 1, 9, tzinfo=UTC)
SECRET = "hooks.slack.com/services/T000/B000/XXXXSECRETWEBHOOKPATH"  # a webhook URL without its scheme


def notice(deployment: str = "prod-east") -> Notice:
    return Notice(
        status="firing",
        kind="end_of_maintenance",
        severity="critical",
        deployment=deployment,
        team="data-platform",
        summary=f"{deployment} runs agent 1.3.0; agent 1.3 left maintenance on 2026-07-28",
        remedy="Upgrade to 1.6.0",
        dedup_key=f"end_of_maintenance:{deployment}:agent-1.3",
        end_of_maintenance=date(2026, 7, 28),
        days_left=-2,
    )


def outgoing(target: str, deployment: str = "prod-east") -> Outgoing:
    item = notice(deployment)
    return Outgoing(target, DeliveryKey.finding(item.dedup_key), item.summary, NoticePayload(item))


class Recording:
    """A notifier that accepts every message and remembers it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, message: Message) -> Outcome:
        self.messages.append(message)
        return Outcome.sent()


class Raising:
    """A notifier that breaks the contract: it raises instead of returning an outcome."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    def send(self, message: Message) -> Outcome:
        self.calls += 1
        raise self.error


def integration(target: str, notifier: Any) -> Integration:
    return Integration(target, notifier, slack_chunks, target)


def delivery(engine: Engine, *integrations: Integration, secrets: tuple[str, ...] = ()) -> Delivery:
    return Delivery(
        DeliveryLog(engine),
        {item.target: item for item in integrations},
        NotifySettings(retry_backoff_seconds=1, retry_backoff_max_seconds=2, attempts_per_run=2),
        sleep=lambda _: None,
        secrets=secrets,
    )


def states(engine: Engine) -> dict[tuple[str, str], str]:
    return {(r.target, r.key): r.state for r in DeliveryLog(engine).records()}


def with_webhook(settings: Settings, url: str) -> Settings:
    """``settings`` with the first receiver's webhook URL replaced, past any load-time check."""
    receiver = settings.receivers[0]
    assert receiver.slack is not None
    slack = receiver.slack.model_copy(update={"webhook_url": SecretStr(url)})
    return settings.model_copy(update={"receivers": [receiver.model_copy(update={"slack": slack})]})


# --- 1. the SDK's loggers, a webhook URL without a scheme -----------------------------------


def test_the_sdk_loggers_print_nothing_even_when_configured_to(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("slack_sdk").setLevel(logging.DEBUG)  # an operator's logging config
    logging.getLogger("slack_sdk.webhook.client").setLevel(logging.DEBUG)
    SlackNotifier(
        SlackSettings(webhook_url=SecretStr("https://hooks.example.com/x")), limiter=RateLimiter(), now=clock
    )
    for name in (
        "slack_sdk",
        "slack_sdk.webhook.client",
        "slack_sdk.web.base_client",
        "supportwatch.notify.slack_sdk",
    ):
        logging.getLogger(name).error("Failed to send a request to https://%s", SECRET)
        logging.getLogger(name).debug("Sending a request - url: https://%s, body: {}", SECRET)
    assert caplog.records == []


def test_sdk_errors_on_every_try_are_not_logged(
    tmp_path: Path, slack_server: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path, receivers=[slack_receiver(slack_server)], routes=ROUTE)
    service = Service.open(settings)
    fake = FakeTime()
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(AT)
    slack_server.script = ["close", "close", "close"]  # a dropped connection on every try
    report = service.notify(AT)
    service.close()
    assert len(slack_server.requests) == 3
    assert report.failures
    assert not [
        r for r in caplog.records if r.name.startswith(("slack_sdk", "supportwatch.notify.slack_sdk"))
    ]
    assert WEBHOOK_PATH not in caplog.text


def test_a_webhook_url_without_a_scheme_is_dead_lettered_with_a_clear_reason(
    tmp_path: Path, slack_server: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = with_webhook(
        make_settings(tmp_path, receivers=[slack_receiver(slack_server)], routes=ROUTE), SECRET
    )
    service = Service.open(settings)
    service.notify_runtime = NotifyRuntime(sleep=FakeTime().sleep)
    service.apply_static(AT)
    report = service.notify(AT)
    dead = service.dead_letters()
    service.close()
    assert slack_server.requests == []
    assert len(report.dead) == 2  # the two notices of the 30-day rung
    expected = "receiver 'data-platform': slack.webhook_url is not an http(s) URL with a host"
    assert all(expected in (row.last_error or "") for row in dead)
    assert {row.state for row in dead} == {"dead"}
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)
    for text in (caplog.text, *report.dead, *(row.last_error or "" for row in dead)):
        assert "XXXXSECRET" not in text


# --- 2. one target's failure never stops the others -----------------------------------------


def test_an_integration_that_cannot_be_built_is_dead_lettered_and_the_others_send(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Integration:
        raise RuntimeError(f"cannot build with https://{SECRET}")

    monkeypatch.setitem(wiring.KINDS, "email", broken)
    settings = email_settings(tmp_path, smtp_server)
    receiver = settings.receivers[0].model_copy(
        update={"slack": SlackSettings(webhook_url=SecretStr(slack_server.webhook_url))}
    )
    service = Service.open(settings.model_copy(update={"receivers": [receiver]}))
    service.notify_runtime = NotifyRuntime(sleep=FakeTime().sleep)
    service.apply_static(AT)
    report = service.notify(AT)
    records = DeliveryLog(service.engine).records()
    service.close()
    assert len(slack_server.requests) == 1
    assert {(r.target, r.state) for r in records} == {
        ("data-platform/slack", "sent"),
        ("data-platform/email", "dead"),
    }
    assert {r.last_error for r in records if r.state == "dead"} == {
        "receiver 'data-platform': its email integration cannot be set up (RuntimeError)"
    }
    assert not [line for line in report.dead if "XXXXSECRET" in line]


def test_a_notifier_that_raises_is_a_retry_and_the_others_still_send(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broken = Raising(RuntimeError(f"boom while posting to https://{SECRET}\nsecond line"))
    fine = Recording()
    run = delivery(
        engine, integration("a/slack", broken), integration("b/slack", fine), secrets=(f"https://{SECRET}",)
    )
    report = run.run([outgoing("a/slack"), outgoing("b/slack")], now=T0)
    assert broken.calls == 2  # attempts_per_run: a raise is retried like any transient failure
    assert len(fine.messages) == 1
    assert states(engine) == {
        ("a/slack", "end_of_maintenance:prod-east:agent-1.3"): "retry",
        ("b/slack", "end_of_maintenance:prod-east:agent-1.3"): "sent",
    }
    [row] = DeliveryLog(engine).records(target="a/slack")
    assert row.last_error == "a/slack notifier raised RuntimeError: boom while posting to ***"
    assert row.next_attempt_at is not None and row.next_attempt_at > T0
    [line] = report.failures
    assert line.startswith(
        "a/slack end_of_maintenance:prod-east:agent-1.3: a/slack notifier raised RuntimeError"
    )
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None and "\n" not in warnings[0].getMessage()
    assert "XXXXSECRET" not in caplog.text


def test_a_permanent_error_raised_is_dead_lettered(engine: Engine) -> None:
    broken = Raising(PermanentDeliveryError("slack.webhook_url is not an http(s) URL"))
    fine = Recording()
    report = delivery(engine, integration("a/slack", broken), integration("b/slack", fine)).run(
        [outgoing("a/slack"), outgoing("b/slack")], now=T0
    )
    assert broken.calls == 1
    assert len(report.dead) == 1 and report.sent_messages == 1
    assert set(states(engine).values()) == {"dead", "sent"}


def test_an_unreadable_payload_is_dead_lettered_and_the_rest_is_sent(engine: Engine) -> None:
    fine = Recording()
    # a row whose stored payload this version cannot read, due again now
    log = DeliveryLog(engine)
    bad = DeliveryKey.finding("bad-key")
    log.claim(
        "a/slack", bad, now=T0, lease_seconds=60, summary="s", payload={"notice": {"no": "such fields"}}
    )
    log.mark_failed("a/slack", [bad], error="HTTP 500", next_attempt_at=T0, attempts=0)
    report = delivery(engine, integration("a/slack", fine)).run([outgoing("a/slack")], now=T0)
    assert report.sent_keys == 1
    assert states(engine) == {
        ("a/slack", "bad-key"): "dead",
        ("a/slack", "end_of_maintenance:prod-east:agent-1.3"): "sent",
    }
    [dead] = DeliveryLog(engine).records(state=DeliveryState.DEAD)
    assert dead.last_error == "its stored payload cannot be read (TypeError)"


def test_a_failure_to_record_one_target_releases_it_and_the_others_still_send(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = DeliveryLog.mark_sent

    def flaky(self: DeliveryLog, target: str, keys: Any, **kwargs: Any) -> None:
        if target == "a/slack":
            raise RuntimeError("database is locked")
        real(self, target, keys, **kwargs)

    monkeypatch.setattr(DeliveryLog, "mark_sent", flaky)
    a, b = Recording(), Recording()
    report = delivery(engine, integration("a/slack", a), integration("b/slack", b)).run(
        [outgoing("a/slack"), outgoing("b/slack")], now=T0
    )
    assert (len(a.messages), len(b.messages)) == (1, 1)
    assert states(engine) == {
        ("a/slack", "end_of_maintenance:prod-east:agent-1.3"): "retry",  # released: resent next run
        ("b/slack", "end_of_maintenance:prod-east:agent-1.3"): "sent",
    }
    assert report.failures == [
        "a/slack end_of_maintenance:prod-east:agent-1.3: RuntimeError: database is locked"
    ]
    assert [r.exc_info for r in caplog.records if r.levelno >= logging.ERROR] == [None]


def test_a_run_that_stops_leaves_nothing_claimed(engine: Engine) -> None:
    fine = Recording()
    interrupted = Raising(KeyboardInterrupt())
    run = delivery(engine, integration("a/slack", fine), integration("b/slack", interrupted))
    with pytest.raises(KeyboardInterrupt):
        run.run([outgoing("a/slack"), outgoing("b/slack"), outgoing("b/slack", "prod-west")], now=T0)
    assert "claimed" not in states(engine).values()
    assert states(engine)[("a/slack", "end_of_maintenance:prod-east:agent-1.3")] == "sent"
    # released for the next run, which sends them
    again = delivery(engine, integration("a/slack", fine), integration("b/slack", Recording())).run(
        [], now=T0
    )
    assert again.sent_keys == 2
    assert set(states(engine).values()) == {"sent"}


# --- 3. at least once; email re-sends fold ------------------------------------------------------


def test_the_message_id_is_derived_from_the_delivery_key() -> None:
    key = "data-platform/email\nend_of_maintenance:prod-east:agent-1.3"
    expected = "<1aa4a31fcd8590da41809a904b9304de9d0c7056.supportwatch@example.com>"
    assert message_id(key, "supportwatch@example.com") == expected
    message = Message("data-platform", notices=(notice(),))
    first = render_email(
        message, sender="supportwatch@example.com", to=["t@example.com"], now=T0, delivery_key=key
    )
    again = render_email(
        message,
        sender="supportwatch@example.com",
        to=["t@example.com"],
        delivery_key=key,
        now=datetime(2030, 1, 1, tzinfo=UTC),
    )
    other_key = key.replace("prod-east", "prod-west")
    other = render_email(
        message, sender="supportwatch@example.com", to=["t@example.com"], now=T0, delivery_key=other_key
    )
    assert first["Message-ID"] == again["Message-ID"] == expected
    assert other["Message-ID"] == "<e55007392c79429b57347594364df73a8dfbe05e.supportwatch@example.com>"
    unkeyed = [
        render_email(message, sender="s@example.com", to=["t@example.com"], now=T0)["Message-ID"]
        for _ in "ab"
    ]
    assert unkeyed[0] != unkeyed[1]


def email_settings(tmp_path: Path, server: SmtpServer, **extra: Any) -> Settings:
    smtp = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "username": "supportwatch",
        "password": SMTP_PASSWORD,
        "sender": "supportwatch@example.com",
        "timeout_seconds": 5,
    }
    receiver = {"name": "data-platform", "email": {"to": ["team@example.com"]}}
    return make_settings(tmp_path, receivers=[receiver], routes=ROUTE, smtp=smtp, **extra)


class Crash(BaseException):
    """The process dies: nothing after it runs, not even a database write."""


def crash(*_: Any, **__: Any) -> None:
    raise Crash


def test_a_crash_after_the_server_accepted_resends_after_the_lease_with_the_same_message_id(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Service.open(email_settings(tmp_path, smtp_server, notify={"lease_seconds": 600}))
    service.apply_static(AT)
    with monkeypatch.context() as patch:
        patch.setattr(DeliveryLog, "_finish", crash)  # dies between "250 accepted" and the record
        with pytest.raises(Crash):
            service.notify(AT)
    assert len(smtp_server.recorder.envelopes) == 1
    assert {r.state for r in DeliveryLog(service.engine).records()} == {"claimed"}
    within = service.notify(AT + timedelta(seconds=599))  # the lease still holds
    assert within.sent_messages == 0
    after = service.notify(AT + timedelta(seconds=601))  # the lease expired: sent again
    records = DeliveryLog(service.engine).records()
    service.close()
    assert after.sent_messages == 1
    assert {r.state for r in records} == {"sent"}
    first, second = (
        message_from_bytes(envelope.original_content or b"", policy=policy.default)
        for envelope in smtp_server.recorder.envelopes
    )
    assert first["Message-ID"] == second["Message-ID"]
    assert str(first["Message-ID"]).strip().endswith(".supportwatch@example.com>")


def test_a_crash_after_slack_accepted_resends_after_the_lease(
    tmp_path: Path, slack_server: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, receivers=[slack_receiver(slack_server)], routes=ROUTE)
    service = Service.open(settings)
    service.notify_runtime = NotifyRuntime(sleep=FakeTime().sleep)
    service.apply_static(AT)
    with monkeypatch.context() as patch:
        patch.setattr(DeliveryLog, "_finish", crash)
        with pytest.raises(Crash):
            service.notify(AT)
    lease = settings.notify.lease_seconds
    assert service.notify(AT + timedelta(seconds=lease - 1)).sent_messages == 0
    assert service.notify(AT + timedelta(seconds=lease + 1)).sent_messages == 1
    service.close()
    assert len(slack_server.requests) == 2  # at least once: the same post, twice
    assert slack_server.requests[0].body == slack_server.requests[1].body


def test_the_email_notifier_uses_the_delivery_key(smtp_server: SmtpServer, tmp_path: Path) -> None:
    settings = email_settings(tmp_path, smtp_server)
    assert settings.smtp is not None
    notifier = EmailNotifier(settings.smtp, ["team@example.com"], now=clock)
    message = Message("data-platform", notices=(notice(),))
    key = "data-platform/email\nend_of_maintenance:prod-east:agent-1.3"
    assert notifier.send_keyed(message, key).ok
    assert notifier.send_keyed(message, key).ok
    ids = {
        str(message_from_bytes(e.original_content or b"", policy=policy.default)["Message-ID"]).strip()
        for e in smtp_server.recorder.envelopes
    }
    assert ids == {"<1aa4a31fcd8590da41809a904b9304de9d0c7056.supportwatch@example.com>"}


def test_claims_across_slices_are_each_claimed_once(engine: Engine) -> None:
    # more outgoing than one claim statement takes, with one (target, key) listed in two slices
    items = [outgoing("t/slack", f"d{n:04d}") for n in range(CLAIM_BATCH + 40)]
    items.insert(CLAIM_BATCH + 10, items[3])
    claims = list(delivery(engine, integration("t/slack", Recording())).claim(items, now=T0))
    assert sorted(str(claim.key) for claim in claims) == sorted({str(item.key) for item in items})
    assert len(claims) == CLAIM_BATCH + 40
    assert set(states(engine).values()) == {"claimed"}
    # a second run finds every row logged: nothing is claimed twice
    assert list(delivery(engine, integration("t/slack", Recording())).claim(items, now=T0)) == []
