"""Acks (Alertmanager's silences): a finding an operator has seen is not announced again.

An ack names a finding's ``dedup_key`` and holds until ``until``, or (None) until the finding's
facts change: new facts give a new key, which no ack names. Whether a key is muted at an
instant is a pure function of the acks and that instant; ``Silences`` only stores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from supportwatch.tables import ack_table, insert_for


@dataclass(frozen=True, slots=True)
class Ack:
    """A silenced finding: until ``until`` (None: until its facts, hence its key, change)."""

    dedup_key: str
    until: datetime | None
    created_at: datetime
    note: str = ""

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until


def muted(acks: Iterable[Ack], now: datetime) -> frozenset[str]:
    """The dedup keys an ack silences at ``now``."""
    return frozenset(ack.dedup_key for ack in acks if ack.active(now))


def is_muted(dedup_key: str, acks: Iterable[Ack], now: datetime) -> bool:
    """Whether an ack silences ``dedup_key`` at ``now``."""
    return dedup_key in muted(acks, now)


class Silences:
    """The acks on ``engine``; every method is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ack(self, dedup_key: str, *, until: datetime | None, now: datetime, note: str = "") -> Ack:
        """Silence ``dedup_key`` until ``until`` (None: until its facts change); replaces an older ack."""
        statement = insert_for(self.engine, ack_table).values(
            dedup_key=dedup_key, until=until, created_at=now, note=note
        )
        statement = statement.on_conflict_do_update(
            index_elements=["dedup_key"],
            set_={name: statement.excluded[name] for name in ("until", "created_at", "note")},
        )
        with self.engine.begin() as connection:  # an upsert: two acks of one key at once both succeed
            connection.execute(statement)
        return Ack(dedup_key, until, now, note)

    def acks(self) -> list[Ack]:
        """Every stored ack, oldest first, active or not."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(ack_table).order_by(ack_table.c.created_at))
            return [Ack(row.dedup_key, row.until, row.created_at, row.note) for row in rows]
