"""The delivery log: the key format, the states as stored, and claims insert-or-nothing on
SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect

from supportwatch.notify.log import Claimable, DeliveryKey, DeliveryLog, DeliveryState

T0 = datetime(2026, 7, 1, 9, tzinfo=UTC)
EOM = "end_of_maintenance:prod-east:agent-1.3"

# --- the key format: what rows written by every version so far hold ---------------------------


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (DeliveryKey.finding(EOM), EOM),
        (DeliveryKey.episode(EOM, 0), EOM),
        (DeliveryKey.episode(EOM, 2), f"{EOM}:episode-2"),
        (DeliveryKey.finding(EOM).repeat(3), f"{EOM}:repeat-3"),
        (DeliveryKey.episode(EOM, 2).repeat(3), f"{EOM}:episode-2:repeat-3"),
        (DeliveryKey.finding(EOM).repeat(0), EOM),
        (DeliveryKey.finding(EOM).resolved(), f"resolved:{EOM}"),
        (DeliveryKey.finding(EOM).repeat(4).resolved(), f"resolved:{EOM}"),
        (DeliveryKey.episode(EOM, 1).resolved(), f"resolved:{EOM}:episode-1"),
        (DeliveryKey.digest("2026-W27"), "digest:2026-W27"),
    ],
)
def test_each_key_is_written_as_before_and_read_back(key: DeliveryKey, text: str) -> None:
    assert str(key) == text
    assert DeliveryKey.parse(text) == key
    assert hash(DeliveryKey.parse(text)) == hash(key)


def test_parse_reads_each_part() -> None:
    key = DeliveryKey.parse(f"resolved:{EOM}:episode-2")
    assert (key.dedup_key, key.episode_number, key.repeat_number, key.is_resolved) == (EOM, 2, 0, True)
    assert not key.is_digest
    digest = DeliveryKey.parse("digest:2026-W27")
    assert digest.is_digest and digest.week == "2026-W27"
    # a suffix that no constructor writes stays part of the dedup key
    assert DeliveryKey.parse(f"{EOM}:repeat-0").dedup_key == f"{EOM}:repeat-0"


@given(st.text())
def test_any_text_is_a_key_written_back_unchanged(text: str) -> None:
    assert str(DeliveryKey.parse(text)) == text


def test_the_states_are_the_strings_stored_so_far() -> None:
    assert [state.value for state in DeliveryState] == ["claimed", "sent", "retry", "dead"]
    assert DeliveryState("dead") is DeliveryState.DEAD
    assert f"{DeliveryState.SENT}" == "sent"  # formats as the stored text


# --- the log on a real database ----------------------------------------------------------------


def claim(log: DeliveryLog, key: str = "k", now: datetime = T0) -> bool:
    return log.claim(
        "team/slack", DeliveryKey.parse(key), now=now, lease_seconds=60, summary="s", payload={"notice": {}}
    )


def test_claim_once(engine: Engine) -> None:
    log = DeliveryLog(engine)
    assert claim(log)
    assert not claim(log)
    assert log.claim("team/email", DeliveryKey.parse("k"), now=T0, lease_seconds=60, summary="", payload={})
    assert [r.state for r in log.records()] == ["claimed", "claimed"]


def test_concurrent_claims_have_one_winner(engine: Engine) -> None:
    log = DeliveryLog(engine)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: claim(log, "race"), range(16)))
    assert results.count(True) == 1


def test_an_abandoned_claim_is_resumed_after_its_lease(engine: Engine) -> None:
    log = DeliveryLog(engine)
    assert claim(log)
    assert log.take_due(now=T0 + timedelta(seconds=30), lease_seconds=60) == []
    [taken] = log.take_due(now=T0 + timedelta(seconds=61), lease_seconds=60)
    assert (taken.target, str(taken.key), taken.payload) == ("team/slack", "k", {"notice": {}})
    assert log.take_due(now=T0 + timedelta(seconds=62), lease_seconds=60) == []


def test_retry_then_sent_then_dead(engine: Engine) -> None:
    log = DeliveryLog(engine)
    a, b = DeliveryKey.parse("a"), DeliveryKey.parse("b")
    claim(log, "a")
    claim(log, "b")
    log.mark_failed("team/slack", [a], error="HTTP 500", next_attempt_at=T0 + timedelta(minutes=5))
    log.mark_failed("team/slack", [b], error="channel_not_found", next_attempt_at=None)
    assert log.take_due(now=T0 + timedelta(minutes=4), lease_seconds=60) == []
    [due] = log.take_due(now=T0 + timedelta(minutes=5), lease_seconds=60)
    assert str(due.key) == "a"
    assert due.attempts == 1
    log.mark_sent("team/slack", [a], now=T0 + timedelta(minutes=5))
    states = {r.key: (r.state, r.attempts, r.last_error) for r in log.records()}
    assert states == {"a": ("sent", 2, None), "b": ("dead", 1, "channel_not_found")}
    assert log.sent_keys("team/slack", [a, b]) == {a}
    assert log.logged("team/slack", [a, b, DeliveryKey.parse("c")]) == {a, b}
    assert [r.key for r in log.records(state=DeliveryState.DEAD)] == ["b"]


def test_redrive_requeues_dead_letters_due_now(engine: Engine) -> None:
    log = DeliveryLog(engine)
    a, b = DeliveryKey.parse("a"), DeliveryKey.parse("b")
    claim(log, "a")
    claim(log, "b")
    log.mark_failed("team/slack", [a, b], error="invalid_auth", next_attempt_at=None)
    later = T0 + timedelta(days=3)
    assert log.redrive(now=later, key=b) == 1
    assert {r.key: r.state for r in log.records()} == {"a": "dead", "b": "retry"}
    [due] = log.take_due(now=later, lease_seconds=60)
    assert (due.key, due.created_at) == (b, later)  # the give-up clock starts again
    assert log.redrive(now=later, target="team/slack") == 1


def test_the_last_sent_digest_is_the_newest_delivered_one(engine: Engine) -> None:
    log = DeliveryLog(engine)
    assert log.last_sent_digest("team/email") is None
    for week, day in (("2026-W27", 0), ("2026-W28", 7), ("2026-W29", 14)):
        key = DeliveryKey.digest(week)
        at = T0 + timedelta(days=day)
        log.claim("team/email", key, now=at, lease_seconds=60, summary="", payload={"digest": {"week": week}})
        if week != "2026-W29":  # the newest one failed
            log.mark_sent("team/email", [key], now=at)
    claim(log, EOM, now=T0 + timedelta(days=20))
    log.mark_sent("team/slack", [DeliveryKey.finding(EOM)], now=T0 + timedelta(days=20))
    last = log.last_sent_digest("team/email")
    assert last is not None
    assert (last.key, last.state, last.payload) == (
        "digest:2026-W28",
        "sent",
        {"digest": {"week": "2026-W28"}},
    )


# --- threads: the migration and the model agree; the first message of a thread is found -------


def test_the_migrated_delivery_table_has_the_thread_columns(engine: Engine) -> None:
    columns = {column["name"] for column in inspect(engine).get_columns("delivery")}
    assert {"thread", "external_id"} <= columns


def test_thread_roots_name_the_first_message_sent_in_each_thread(engine: Engine) -> None:
    log = DeliveryLog(engine)
    first, later, other = (DeliveryKey.finding(k) for k in ("a:rung-60", "a:rung-30", "b"))
    assert log.claim_many(
        [Claimable("t/slack", first, "s", {}, "maintenance:a"), Claimable("t/slack", other, "s", {}, "b")],
        now=T0,
        lease_seconds=60,
    ) == {("t/slack", "a:rung-60"), ("t/slack", "b")}
    log.mark_sent("t/slack", [first], now=T0, external_id="100.1")
    assert log.claim(
        "t/slack", later, now=T0, lease_seconds=60, summary="s", payload={}, thread="maintenance:a"
    )
    assert not log.claim("t/slack", later, now=T0, lease_seconds=60, summary="s", payload={})
    log.mark_sent("t/slack", [later], now=T0 + timedelta(days=30), external_id="200.2")
    log.mark_failed("t/slack", [other], error="boom", next_attempt_at=None)
    assert log.thread_roots("t/slack", ["maintenance:a", "b", "c"]) == {"maintenance:a": "100.1"}
    assert log.thread_roots("u/slack", ["maintenance:a"]) == {}
    assert log.message_payloads("t/slack", "200.2") == [{}]
    [row] = [r for r in log.records() if r.key == "a:rung-30"]
    assert (row.thread, row.external_id) == ("maintenance:a", "200.2")
