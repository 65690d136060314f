"""The store on SQLite and PostgreSQL: over-long values never reach a column, inserts are race-safe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine

from at_once import row_count, run_together
from supportwatch.store import Store
from supportwatch.tables import observation_table, release_table, source_state_table
from supportwatch.values import ETAG_MAX, URL_MAX, Release, SourceState

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 12, tzinfo=UTC)


# --- bounds: one over-long value never stops a record, and is never stored -----------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (Release("agent", "1.9.0-" + "a" * 60, date(2026, 8, 1)), "version"),
        (Release("chart", "2.4.0", date(2026, 8, 1), app_version="1.9." + "9" * 70), "app version"),
        (Release("agent", "1.9.1", date(2026, 8, 1), channel="s" * 33), "channel"),
    ],
)
def test_an_over_long_release_is_refused_and_the_rest_recorded(
    engine: Engine, bad: Release, field: str
) -> None:
    store = Store(engine)
    good = Release("agent", "1.8.2", date(2026, 7, 17), image_tags=("3.2-5-python-3.12-astro-agent-1.8.2",))
    result = store.record("feed", "https://feed.invalid/rss", [bad, good], seen_at=T0)
    assert result.new == (("agent", "1.8.2"),)
    [reason] = result.refused
    assert f"its {field} is" in reason
    assert [(r.component, r.version) for r in store.releases()] == [("agent", "1.8.2")]


def test_over_long_image_tags_and_url_are_bounded(engine: Engine) -> None:
    store = Store(engine)
    tags = ("3.2-5-python-3.12-astro-agent-1.8.2", "x" * 300)
    url = "https://feed.invalid/" + "p" * 3000
    store.record("feed", url, [Release("agent", "1.8.2", date(2026, 7, 17), image_tags=tags)], seen_at=T0)
    [release] = store.releases()
    assert release.image_tags == ("3.2-5-python-3.12-astro-agent-1.8.2",)
    [obs] = store.observations("agent", "1.8.2")
    assert obs.url is not None and len(obs.url) <= URL_MAX


def test_control_characters_never_reach_a_row(engine: Engine) -> None:
    # PostgreSQL refuses a NUL in text outright; an escape sequence would reach a terminal
    store = Store(engine)
    release = Release(
        "chart", "2.4.0", date(2026, 8, 1), app_version="1.9.0\x00\x1b[2J", channel="stable\x07"
    )
    store.record("chart-index", None, [release], seen_at=T0)
    [stored] = store.releases()
    assert (stored.app_version, stored.channel) == ("1.9.0", "stable")


def test_source_state_fields_are_bounded(engine: Engine) -> None:
    store = Store(engine)
    state = SourceState(
        name="feed",
        configured_url="https://feed.invalid/rss",
        url="https://feed.invalid/" + "m" * 3000,
        etag='"' + "e" * (ETAG_MAX + 10) + '"',
        last_modified="Wed, 22 Jul 2026 10:00:00 GMT" + " " * 200 + "x",
        last_attempt_at=T0,
        last_error="\x1b[31mboom\x1b[0m " + "y" * 5000,
    )
    store.save_source_state(state)
    saved = store.source_state("feed")
    assert saved is not None
    assert saved.etag is None  # a cut validator would never match: dropped
    assert saved.last_modified is None
    assert saved.url is not None and len(saved.url) <= URL_MAX
    assert saved.last_error is not None and saved.last_error.startswith("boom ")
    assert len(saved.last_error) <= 2000


# --- races: the same upsert from two threads at the same moment ----------------------------


def _both_read_before_either_writes(monkeypatch: pytest.MonkeyPatch, parties: int = 2) -> None:
    """Make every thread read what a source observed before any thread writes: the race, every time."""
    barrier = threading.Barrier(parties, timeout=30)
    local = threading.local()
    original: Callable[..., Any] = Store._observations_of

    def read_then_wait(self: Store, connection: Any, source: str) -> Any:
        rows = original(self, connection, source)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()
        return rows

    monkeypatch.setattr(Store, "_observations_of", read_then_wait)


RELEASES = [
    Release("agent", "1.8.2", date(2026, 7, 17)),
    Release("agent", "1.8.1", date(2026, 7, 15), yanked=True),
    Release("chart", "2.3.3", date(2026, 7, 22), app_version="1.8.2"),
]


def test_two_records_of_the_same_releases_at_once_both_succeed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _both_read_before_either_writes(monkeypatch)
    stores = [Store(engine), Store(engine)]
    results = run_together(*(lambda s=s: s.record("pinned", None, RELEASES, seen_at=T0) for s in stores))
    assert sorted(key for result in results for key in result.new) == sorted(
        (r.component, r.version) for r in RELEASES
    )  # each release is new exactly once, for whichever run created it
    assert row_count(engine, observation_table) == 3
    assert row_count(engine, release_table) == 3
    assert {(r.version, r.yanked) for r in stores[0].releases()} == {
        ("1.8.2", False),
        ("1.8.1", True),
        ("2.3.3", False),
    }


def test_two_exhaustive_records_withdrawing_the_same_claim_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two one-off commands apply the same edited static source: both withdraw 1.8.1
    Store(engine).record("pinned", None, RELEASES, seen_at=T0, exhaustive=True)
    _both_read_before_either_writes(monkeypatch)
    kept = [release for release in RELEASES if release.version != "1.8.1"]
    run_together(
        *(lambda: Store(engine).record("pinned", None, kept, seen_at=T1, exhaustive=True) for _ in range(2))
    )
    assert row_count(engine, observation_table) == 2
    assert {r.version for r in Store(engine).releases()} == {"1.8.2", "2.3.3"}


def test_two_first_saves_of_a_source_state_at_once(engine: Engine) -> None:
    barrier = threading.Barrier(2, timeout=30)

    def save(failures: int) -> None:
        barrier.wait()
        Store(engine).save_source_state(
            SourceState(name="feed", configured_url="https://f.invalid/", consecutive_failures=failures)
        )

    for round_ in range(5):  # the window is small: try it a few times
        run_together(partial(save, 2 * round_), partial(save, 2 * round_ + 1))
    assert row_count(engine, source_state_table) == 1
    saved = Store(engine).source_state("feed")
    assert saved is not None and saved.consecutive_failures in (8, 9)
