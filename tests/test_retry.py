"""``supportwatch.retry``: one reading of Retry-After and of retryable statuses, for sources and Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notify import loopback
from notify.loopback import ROUTE, FakeTime, SlackServer, make_settings, slack_receiver
from sources import conftest as sources_fixtures
from sources.httpserver import Server, Sleeps, sequence, static, status
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.retry import MAX_RETRY_AFTER_SECONDS, retry_after, retryable_status
from supportwatch.service import Service
from supportwatch.sources.http import Fetched, Fetcher

NOW = datetime(2026, 7, 22, 10, 0, tzinfo=UTC)
# the loopback servers' fixtures of tests/notify and tests/sources
slack_server = loopback.slack_server
server, client, sleeps, fetcher = (
    sources_fixtures.server,
    sources_fixtures.client,
    sources_fixtures.sleeps,
    sources_fixtures.fetcher,
)

# every value a server could send that is not RFC 9110's delta-seconds or HTTP date
NOT_RETRY_AFTER = ["inf", "Infinity", "-inf", "1e12", "1e400", "-5", "-0", "NaN", "nan", "1.5", "+7", "0x10",
                   "7 seconds", "soon", "", "   ", "\u00b2", "\u0663", "Mon, 01 Jan 99999999999 00:00:00 GMT",
                   "Wed, 32 Jul 2026 10:00:00 GMT"]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 7 ", 7.0),
        ("3600", 3600.0),
        ("3601", 3600.0),
        ("99999999999", 3600.0),
        ("9" * 5000, 3600.0),  # int() would refuse it; float() would say inf
        ("Wed, 22 Jul 2026 10:00:30 GMT", 30.0),
        ("Wed, 22 Jul 2026 09:00:00 GMT", 0.0),  # a date past: retry now
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
        ("Wednesday, 22-Jul-26 10:01:00 GMT", 60.0),  # RFC 850, still an HTTP date
    ],
)
def test_retry_after_reads_rfc_9110_and_is_bounded(value: str, seconds: float) -> None:
    assert retry_after(value, NOW) == seconds


@pytest.mark.parametrize("value", [*NOT_RETRY_AFTER, None])
def test_anything_else_is_none_so_the_caller_backs_off(value: str | None) -> None:
    assert retry_after(value, NOW) is None


def test_the_bound_is_an_hour() -> None:
    assert MAX_RETRY_AFTER_SECONDS == 3600.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(200, False), (301, False), (400, False), (401, False), (404, False), (408, True), (410, False),
     (425, True), (429, True), (500, True), (501, False), (502, True), (503, True), (504, True),
     (505, False), (506, False), (507, True), (508, False), (510, False), (511, False), (599, True),
     (600, False)],
)  # fmt: skip
def test_one_classifier_for_sources_and_notifiers(status: int, retryable: bool) -> None:
    assert retryable_status(status) is retryable
    assert retryable_status(status) is retryable


# --- sources: the fetcher honours a valid Retry-After and backs off on any other -------------


@pytest.mark.parametrize("value", ["inf", "1e12", "1e400", "-1", "NaN"])
def test_the_fetcher_backs_off_on_a_retry_after_it_cannot_use(
    fetcher: Fetcher, server: Server, sleeps: Sleeps, value: str
) -> None:
    server.routes["/feed"] = sequence(status(429, {"Retry-After": value}), static(b"{}"))
    assert isinstance(fetcher.fetch(server.url("/feed")), Fetched)
    [slept] = sleeps.calls
    assert 0.5 <= slept <= 1.0  # the first backoff step, with jitter


@pytest.mark.parametrize("code", [501, 505])
def test_the_fetcher_does_not_retry_what_cannot_pass(
    fetcher: Fetcher, server: Server, sleeps: Sleeps, code: int
) -> None:
    server.routes["/feed"] = status(code)
    with pytest.raises(Exception, match=f"HTTP {code}; check the source"):
        fetcher.fetch(server.url("/feed"))
    assert server.hits("/feed") == 1
    assert sleeps.calls == []


# --- Slack: a 429 with an unusable Retry-After never crashes notify --------------------------

AT = datetime(2026, 6, 28, 9, tzinfo=UTC)  # agent 1.3 ends 2026-07-28: one notice is due


def _service(tmp_path: Path, server: SlackServer, kind: str, **notify: object) -> tuple[Service, FakeTime]:
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


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        ("inf", 1.0),  # not delta-seconds: the backoff's first step (retry_backoff_seconds)
        ("1e12", 1.0),
        ("1e400", 1.0),
        ("-1", 1.0),
        ("NaN", 1.0),
        ("99999999999999", 3600.0),  # delta-seconds, bounded to an hour
        ("7", 7.0),
    ],
)
@pytest.mark.parametrize("kind", ["webhook", "bot"])
def test_a_429_with_any_retry_after_is_retried_later_and_nothing_stays_claimed(
    tmp_path: Path, slack_server: SlackServer, kind: str, value: str, wait: float
) -> None:
    service, _ = _service(tmp_path, slack_server, kind, attempts_per_run=1)
    slack_server.script = [f"429:{value}"]
    first = service.notify(AT)  # finishes: no OverflowError from a datetime an hour+ past year 9999
    assert first.failures and not first.dead
    rows = service.notifications().log.records()
    assert rows
    assert {row.state for row in rows} == {"retry"}  # nothing left claimed
    assert {row.next_attempt_at for row in rows} == {AT + timedelta(seconds=wait)}
    later = service.notify(AT + timedelta(seconds=wait))
    service.close()
    assert later.ok and later.sent_keys == len(rows)
    assert len(slack_server.requests) == 2
    assert {row.state for row in service.notifications().log.records()} == {"sent"}


@pytest.mark.parametrize("value", ["inf", "1e400"])
def test_within_a_run_an_unusable_retry_after_falls_back_to_backoff(
    tmp_path: Path, slack_server: SlackServer, value: str
) -> None:
    service, fake = _service(tmp_path, slack_server, "webhook")
    slack_server.script = [f"429:{value}"]
    report = service.notify(AT)
    service.close()
    assert report.ok
    assert fake.sleeps == [1.0]
    assert len(slack_server.requests) == 2
