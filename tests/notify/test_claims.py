"""The delivery log's claim is insert-or-nothing on both SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from supportwatch.store import NotifyStore

T0 = datetime(2026, 7, 1, 9, tzinfo=UTC)


def claim(store: NotifyStore, key: str = "k", now: datetime = T0) -> bool:
    return store.claim("team/slack", key, now=now, lease_seconds=60, summary="s", payload={"notice": {}})


def test_claim_once(engine: Engine) -> None:
    store = NotifyStore(engine)
    assert claim(store)
    assert not claim(store)
    assert store.claim("team/email", "k", now=T0, lease_seconds=60, summary="", payload={})
    assert [r.state for r in store.records()] == ["claimed", "claimed"]


def test_concurrent_claims_have_one_winner(engine: Engine) -> None:
    store = NotifyStore(engine)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: claim(store, "race"), range(16)))
    assert results.count(True) == 1


def test_an_abandoned_claim_is_resumed_after_its_lease(engine: Engine) -> None:
    store = NotifyStore(engine)
    assert claim(store)
    assert store.take_due(now=T0 + timedelta(seconds=30), lease_seconds=60) == []
    [taken] = store.take_due(now=T0 + timedelta(seconds=61), lease_seconds=60)
    assert (taken.target, taken.key, taken.payload) == ("team/slack", "k", {"notice": {}})
    assert store.take_due(now=T0 + timedelta(seconds=62), lease_seconds=60) == []


def test_retry_then_sent_then_dead(engine: Engine) -> None:
    store = NotifyStore(engine)
    claim(store, "a")
    claim(store, "b")
    store.mark_failed("team/slack", ["a"], error="HTTP 500", next_attempt_at=T0 + timedelta(minutes=5))
    store.mark_failed("team/slack", ["b"], error="channel_not_found", next_attempt_at=None)
    assert store.take_due(now=T0 + timedelta(minutes=4), lease_seconds=60) == []
    [due] = store.take_due(now=T0 + timedelta(minutes=5), lease_seconds=60)
    assert due.key == "a"
    assert due.attempts == 1
    store.mark_sent("team/slack", ["a"], now=T0 + timedelta(minutes=5))
    states = {r.key: (r.state, r.attempts, r.last_error) for r in store.records()}
    assert states == {"a": ("sent", 2, None), "b": ("dead", 1, "channel_not_found")}
    assert store.sent_keys("team/slack", ["a", "b"]) == {"a"}
