"""Acks: whether a finding is muted at an instant (plain values), and the stored acks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from supportwatch.notify.silences import Ack, Silences, is_muted, muted

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
KEY = "behind_latest_patch:prod-east:1.8.1"


def test_an_ack_mutes_until_its_end_and_a_forever_ack_always() -> None:
    until = Ack(KEY, T0 + timedelta(days=7), T0)
    forever = Ack("floating_tag:prod-west", None, T0)
    acks = [until, forever]
    assert muted(acks, T0) == {KEY, "floating_tag:prod-west"}
    assert is_muted(KEY, acks, T0 + timedelta(days=7) - timedelta(seconds=1))
    assert not is_muted(KEY, acks, T0 + timedelta(days=7))  # ``until`` is exclusive
    assert is_muted("floating_tag:prod-west", acks, T0 + timedelta(days=9999))
    assert not is_muted("floating_tag:prod-east", acks, T0)  # another key: new facts, not muted
    assert muted([], T0) == frozenset()


def test_a_later_ack_replaces_the_earlier_one(engine: Engine) -> None:
    silences = Silences(engine)
    silences.ack(KEY, until=T0 + timedelta(days=1), now=T0, note="first")
    silences.ack(KEY, until=None, now=T0 + timedelta(hours=1), note="for good")
    assert silences.acks() == [Ack(KEY, None, T0 + timedelta(hours=1), "for good")]


def test_two_acks_of_one_key_at_once(engine: Engine) -> None:
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def ack(note: str) -> None:
        try:
            barrier.wait()
            Silences(engine).ack(KEY, until=None, now=T0, note=note)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    for _ in range(5):  # the window is small: try it a few times
        threads = [threading.Thread(target=ack, args=(note,)) for note in ("first", "second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    [stored] = Silences(engine).acks()
    assert stored.note in ("first", "second")
    assert stored.created_at == T0
