"""The response cache: repeat requests are served without rendering, every change is seen at
once (a poll through another replica, the day, time passing for data health), ETag and 304."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from supportwatch.config import Settings
from supportwatch.service import Service
from supportwatch.values import Release
from supportwatch.web import create_app
from supportwatch.web.cache import Entry, ResponseCache

from .fleet import NOW

CACHED = [
    "/",
    "/api/v1/deployments",
    "/api/v1/deployments/eol",
    "/api/v1/releases",
    "/calendar.ics",
    "/calendar/platform.ics",
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def counting(service: Service, name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of ``service.<name>`` (it still runs)."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(service, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, name, counted)
    return calls


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app_client(service: Service, clock: Clock) -> TestClient:
    return TestClient(create_app(service.settings, service=service, clock=clock))


@pytest.mark.parametrize("path", CACHED)
def test_a_repeat_is_served_from_the_cache_with_its_etag(
    app_client: TestClient, service: Service, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    first = app_client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    renders = [counting(service, name, monkeypatch) for name in ("evaluate", "feed", "catalog", "releases")]
    again = app_client.get(path)
    assert (again.content, again.headers["etag"]) == (first.content, etag)
    assert [len(calls) for calls in renders] == [0, 0, 0, 0]
    revalidated = app_client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    assert (revalidated.status_code, revalidated.content, revalidated.headers["etag"]) == (304, b"", etag)
    head = app_client.head(path)
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
    assert head.headers["content-length"] == str(len(first.content))


def test_a_poll_through_another_replica_is_seen_at_once(
    app_client: TestClient, sqlite_settings: Settings
) -> None:
    before = app_client.get("/calendar.ics")
    other = Service.open(sqlite_settings)  # another replica on the same database
    try:
        other.store.record("fixture", None, [Release("agent", "1.9.0", NOW.date())], seen_at=NOW)
    finally:
        other.close()
    after = app_client.get("/calendar.ics", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert b"agent-1.9-maintenance@supportwatch" in after.content
    releases = app_client.get("/api/v1/releases").json()["releases"]
    assert ("agent", "1.9.0") in {(item["component"], item["version"]) for item in releases}


def test_a_new_day_renders_again(app_client: TestClient, clock: Clock) -> None:
    before = app_client.get("/api/v1/deployments").json()
    clock.now = NOW + timedelta(days=1)
    after = app_client.get("/api/v1/deployments").json()
    assert after["evaluated_at"] == clock.now.isoformat()
    assert before["evaluated_at"] == NOW.isoformat()


def test_time_alone_turns_a_silent_source_stale(service: Service, clock: Clock) -> None:
    # the helm source answered just now: healthy until it has been silent for stale_hours (24)
    state = service.store.source_state("chart-index")
    assert state is not None
    service.store.save_source_state(
        replace(state, last_success_at=NOW, consecutive_failures=0, last_error=None)
    )
    client = TestClient(create_app(service.settings, service=service, clock=clock))
    assert client.get("/api/v1/deployments").json()["data_health"] == []
    clock.now = NOW + timedelta(hours=14)  # 23:00 the same day, still healthy: served from the cache
    assert client.get("/api/v1/deployments").json()["evaluated_at"] == NOW.isoformat()
    clock.now = NOW + timedelta(hours=24, seconds=1)  # the next day anyway; and silent too long
    health = client.get("/api/v1/deployments").json()["data_health"]
    assert [item["kind"] for item in health] == ["source_stale"]


def test_time_alone_within_one_day(service: Service) -> None:
    state = service.store.source_state("chart-index")
    assert state is not None
    answered = datetime(2026, 7, 31, 10, 0, tzinfo=UTC)  # stale from 2026-08-01 10:00 on
    service.store.save_source_state(
        replace(state, last_success_at=answered, consecutive_failures=0, last_error=None)
    )
    clock = Clock(NOW)  # 09:00 on 2026-08-01
    client = TestClient(create_app(service.settings, service=service, clock=clock))
    assert client.get("/api/v1/deployments").json()["data_health"] == []
    clock.now = NOW + timedelta(hours=1, seconds=1)
    assert [item["kind"] for item in client.get("/api/v1/deployments").json()["data_health"]] == [
        "source_stale"
    ]


def test_the_team_feed_needs_no_evaluation(
    app_client: TestClient, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the fleet was evaluated")

    monkeypatch.setattr(service, "evaluate", refuse)
    response = app_client.get("/calendar/platform.ics")
    assert response.status_code == 200
    assert response.content.startswith(b"BEGIN:VCALENDAR")
    assert app_client.get("/calendar/nobody.ics").status_code == 404


def test_the_team_feed_is_the_cli_feed(app_client: TestClient, service: Service) -> None:
    assert app_client.get("/calendar/platform.ics").content == service.calendar(NOW, "platform")
    assert service.feed(NOW, "platform") == service.calendar(NOW, "platform")


def test_answers_that_vary_are_kept_apart(app_client: TestClient) -> None:
    platform = app_client.get("/api/v1/deployments?team=platform").json()
    everyone = app_client.get("/api/v1/deployments").json()
    assert len(platform["deployments"]) < len(everyone["deployments"])
    twice = app_client.get("/api/v1/deployments?team=platform&team=analytics")
    assert "etag" not in twice.headers  # a parameter given twice is answered, never kept
    other_host = app_client.get("/", headers={"Host": "other.example:8080"})
    assert "webcal://other.example:8080/calendar.ics" in other_host.text


def test_errors_and_unknown_names_are_not_kept(app_client: TestClient) -> None:
    for _ in range(2):
        missing = app_client.get("/api/v1/deployments/nope")
        assert missing.status_code == 404
        assert "etag" not in missing.headers


def test_the_cache_is_bounded_in_entries_and_bytes() -> None:
    cache = ResponseCache(max_entries=3, max_bytes=10)

    def entry(body: bytes) -> Entry:
        return Entry((), NOW, None, (), body, b'"x"')

    for index in range(5):
        cache.put(("route", index), entry(b"ab"))
    assert len(cache) == 3
    assert cache.get(("route", 0)) is None
    assert cache.get(("route", 4)) is not None
    cache.put(("big",), entry(b"0123456789"))  # fills the byte budget alone
    assert len(cache) == 1
    cache.put(("huge",), entry(b"x" * 11))  # larger than the budget: not kept
    assert cache.get(("huge",)) is None
