"""The contract every notifier kind keeps, whatever its server or transport does (``base.py``):

- ``send`` never raises: a failure comes back as an ``Outcome``;
- it classifies: rate limits, server errors, timeouts, dropped and refused connections are
  retryable; a request the server refuses (4xx, SMTP 5xx, bad credentials) is permanent;
- no secret (webhook URL, bot token, SMTP password) reaches an outcome or a log line, even when
  the server quotes it back.

Each kind runs against loopback servers on 127.0.0.1 only (``loopback.py``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from pydantic import SecretStr

from ports import free_port
from supportwatch.config import SlackSettings, SmtpSettings
from supportwatch.notify.base import Notifier
from supportwatch.notify.console import ConsoleNotifier
from supportwatch.notify.email import EmailNotifier
from supportwatch.notify.message import Message, Notice
from supportwatch.notify.pacing import RateLimiter
from supportwatch.notify.slack import SlackNotifier

from .loopback import (
    BOT_TOKEN,
    SMTP_PASSWORD,
    WEBHOOK_PATH,
    FakeTime,
    SlackServer,
    SmtpServer,
    clock,
    silent_server,
)

SECRET_MARKS = ("XXXXSECRET", "xoxb-SECRET", "sw0rdfish-SECRET")  # a part of each secret
TRANSIENT = ("throttled", "server_error", "unavailable", "timeout", "dropped", "refused")
PERMANENT = ("bad_request", "forbidden", "not_found", "auth_failed")

# what the Slack loopback server answers in each scenario (``SlackServer`` script entries)
SLACK = {
    "throttled": "429:1",
    "server_error": "500",
    "unavailable": "status:503",
    "timeout": "hang:3",  # the notifier waits 1 second
    "dropped": "close",
    "bad_request": "status:400",
    "forbidden": "status:403",
    "not_found": "status:404",
}
# what the SMTP server replies: at RCPT or at DATA
SMTP_RCPT = {
    "throttled": "452 4.5.3 Too many recipients, try again later",
    "unavailable": "421 4.3.2 Service not available, closing channel",
    "forbidden": "550 5.7.1 Relaying denied",
}
SMTP_DATA = {
    "server_error": "451 4.3.0 Local error in processing",
    "bad_request": f"554 5.6.0 Message rejected (you sent supportwatch:{SMTP_PASSWORD})",
}
# the console's transport is its stream
CONSOLE: dict[str, BaseException] = {
    "unavailable": BrokenPipeError(32, "Broken pipe"),
    "timeout": TimeoutError("write timed out"),
    "dropped": ValueError("I/O operation on closed file"),
}
KINDS = ("slack_webhook", "slack_bot", "email", "console")


def applies(kind: str, scenario: str) -> bool:
    return kind != "console" or scenario == "ok" or scenario in CONSOLE


CASES = [
    pytest.param(kind, scenario, id=f"{kind}-{scenario}")
    for kind in KINDS
    for scenario in ("ok", *TRANSIENT, *PERMANENT)
    if applies(kind, scenario)
]


def message() -> Message:
    notice = Notice(
        status="firing",
        kind="end_of_maintenance",
        severity="critical",
        deployment="prod-east",
        team="data-platform",
        summary="prod-east runs agent 1.3.0; agent 1.3 left maintenance on 2026-07-28",
        remedy="Upgrade to 3.1-9-python-3.12-astro-agent-1.6.0",
        dedup_key="end_of_maintenance:prod-east:agent-1.3",
        end_of_maintenance=date(2026, 7, 28),
        days_left=-2,
    )
    return Message("data-platform", notices=(notice,))


def slack_notifier(
    request: pytest.FixtureRequest, kind: str, scenario: str
) -> tuple[Notifier, Callable[[], int]]:
    server: SlackServer = request.getfixturevalue("slack_server")
    base = f"http://127.0.0.1:{free_port()}" if scenario == "refused" else server.url
    if kind == "slack_webhook":
        settings = SlackSettings(webhook_url=SecretStr(base + WEBHOOK_PATH))
        server.script = [SLACK.get(scenario, "invalid_token" if scenario == "auth_failed" else "ok")]
    else:
        settings = SlackSettings(token=SecretStr(BOT_TOKEN), channel="#agent-alerts", api_url=base + "/api/")
        server.script = [SLACK.get(scenario, "invalid_auth" if scenario == "auth_failed" else "ok")]
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    notifier = SlackNotifier(settings, limiter=limiter, now=clock, timeout=1.0)
    return notifier, lambda: len(server.requests)


@contextlib.contextmanager
def email_notifier(
    request: pytest.FixtureRequest, scenario: str
) -> Iterator[tuple[Notifier, Callable[[], int]]]:
    server: SmtpServer = request.getfixturevalue("smtp_server")
    port, password = server.port, SMTP_PASSWORD
    server.recorder.rcpt_reply = SMTP_RCPT.get(scenario)
    server.recorder.data_reply = SMTP_DATA.get(scenario)
    if scenario == "not_found":
        server.recorder.refused = {"team@example.com"}
    if scenario == "auth_failed":
        password = "wrong-" + SMTP_PASSWORD
    if scenario == "refused":
        port = free_port()
    with contextlib.ExitStack() as stack:
        if scenario in ("timeout", "dropped"):
            port = stack.enter_context(silent_server(hang_up=scenario == "dropped"))
        smtp = SmtpSettings.model_validate(
            {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "username": "supportwatch",
                "password": password,
                "sender": "supportwatch@example.com",
                "timeout_seconds": 0.5,
            }
        )
        yield EmailNotifier(smtp, ["team@example.com"], now=clock), lambda: len(server.recorder.envelopes)


def console_notifier(scenario: str) -> tuple[Notifier, Callable[[], int]]:
    written: list[str] = []

    def write(text: str) -> None:
        if scenario in CONSOLE:
            raise CONSOLE[scenario]
        written.append(text)

    return ConsoleNotifier(write), lambda: len(written)


@contextlib.contextmanager
def notifier_for(
    request: pytest.FixtureRequest, kind: str, scenario: str
) -> Iterator[tuple[Notifier, Callable[[], int]]]:
    """The notifier of ``kind`` facing ``scenario``, and how many messages its server received."""
    if kind.startswith("slack"):
        yield slack_notifier(request, kind, scenario)
    elif kind == "email":
        with email_notifier(request, scenario) as built:
            yield built
    else:
        yield console_notifier(scenario)


@pytest.mark.parametrize(("kind", "scenario"), CASES)
def test_every_notifier_keeps_the_contract(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, kind: str, scenario: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with notifier_for(request, kind, scenario) as (notifier, delivered):
        outcome = notifier.send(message())  # never raises: the test fails if it does
        taken = delivered()
    if scenario == "ok":
        assert outcome.ok, outcome.error
        assert taken == 1
    else:
        assert not outcome.ok
        assert outcome.retryable is (scenario in TRANSIENT), outcome.error
        assert outcome.error  # says what happened
    # the loopback SMTP server (aiosmtpd, ``mail.log``) logs what it answers: not ours to check
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    for text in (outcome.error, ours):
        for mark in SECRET_MARKS:
            assert mark not in text


def test_the_cases_cover_every_kind_and_scenario() -> None:
    covered = {(param.values[0], param.values[1]) for param in CASES}
    assert {kind for kind, _ in covered} == set(KINDS)
    for kind in ("slack_webhook", "slack_bot", "email"):
        assert {scenario for k, scenario in covered if k == kind} == {"ok", *TRANSIENT, *PERMANENT}


def test_a_rate_limit_carries_the_servers_wait(request: pytest.FixtureRequest) -> None:
    server: SlackServer = request.getfixturevalue("slack_server")
    for settings in (
        SlackSettings(webhook_url=SecretStr(server.webhook_url)),
        SlackSettings(token=SecretStr(BOT_TOKEN), channel="#agent-alerts", api_url=server.api_url),
    ):
        server.script = ["429:7"]
        fake = FakeTime()
        notifier = SlackNotifier(settings, limiter=RateLimiter(clock=fake.clock, sleep=fake.sleep), now=clock)
        outcome = notifier.send(message())
        assert (outcome.retryable, outcome.retry_after) == (True, 7.0)
