"""The notification log (Alertmanager's nflog): one row per (target, delivery key).

``DeliveryKey`` is the one place that knows how a key is written:

    <dedup_key>                      a finding's first notice (episode 0)
    <dedup_key>:episode-N            the first notice of the N-th time the finding came back
    <...>:repeat-M                   a critical finding's M-th periodic re-send
    resolved:<dedup_key>[:episode-N] the "resolved" notice of that episode
    digest:<ISO week>                a receiver's weekly digest

``DeliveryLog.claim`` is insert-or-nothing on the unique (target, key): of any number of
processes, exactly one gets the row. ``take_due`` re-claims rows whose retry time has come or
whose claimer died (lease expired) with a conditional UPDATE, atomic on SQLite and PostgreSQL.
A row moves ``claimed`` -> ``sent`` | ``retry`` (-> ``claimed`` again) | ``dead``; ``redrive``
puts dead rows back to ``retry``. The payload is stored as JSON and handed back as it was
stored: ``notify.payload`` reads it.

A row may name its ``thread`` (``message.thread_key``); once sent, it records the
``external_id`` its message got from the server. ``thread_roots`` finds, per thread, the first
message sent to a target: where reminders, repeats and the resolution reply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, and_, func, or_, select, true, update

from supportwatch.slices import slices
from supportwatch.tables import delivery_table, insert_for, row_value

_T = delivery_table.c


class DeliveryState(StrEnum):
    """Where a delivery-log row stands; the values are what the ``state`` column holds."""

    CLAIMED = "claimed"  # a process holds it until ``lease_until`` and must send, then record
    SENT = "sent"
    RETRY = "retry"  # failed, due again at ``next_attempt_at``
    DEAD = "dead"  # failed for good (or for too long): shown in health, until redriven


# claims inserted per statement: bounds the encoded payloads held at once
CLAIM_BATCH = 500
_RESOLVED = "resolved:"
_DIGEST = "digest:"
_SUFFIX = re.compile(r":(episode|repeat)-([1-9][0-9]*)\Z")


@dataclass(frozen=True, slots=True, eq=False)
class DeliveryKey:
    """A delivery-log key; build one with a constructor, read one with ``parse``, store ``str(key)``.

    Two keys are equal when they are written alike (``parse`` is total: any text is a key, and
    ``str(DeliveryKey.parse(text)) == text``).
    """

    dedup_key: str = ""  # the finding's; empty for a digest
    episode_number: int = 0
    repeat_number: int = 0
    is_resolved: bool = False
    week: str | None = None  # the ISO week, for a digest

    @classmethod
    def finding(cls, dedup_key: str) -> DeliveryKey:
        """A finding's first notice."""
        return cls(dedup_key)

    @classmethod
    def episode(cls, dedup_key: str, number: int) -> DeliveryKey:
        """The first notice of a finding's ``number``-th return (0: the first time it fired)."""
        return cls(dedup_key, episode_number=number)

    def repeat(self, number: int) -> DeliveryKey:
        """The ``number``-th periodic re-send of this notice (0: the notice itself)."""
        return DeliveryKey(self.dedup_key, self.episode_number, number, self.is_resolved, self.week)

    def resolved(self) -> DeliveryKey:
        """The "resolved" notice of this key's episode."""
        return DeliveryKey(self.dedup_key, self.episode_number, 0, True)

    @classmethod
    def digest(cls, week: str) -> DeliveryKey:
        """A receiver's digest of one ISO week (``2026-W27``)."""
        return cls(week=week)

    @property
    def is_digest(self) -> bool:
        return self.week is not None

    @classmethod
    def parse(cls, text: str) -> DeliveryKey:
        """The key ``text`` spells; text in no known form is a finding's dedup key."""
        if text.startswith(_DIGEST):
            return cls(week=text[len(_DIGEST) :])
        resolved = text.startswith(_RESOLVED)
        rest = text[len(_RESOLVED) :] if resolved else text
        numbers = {"episode": 0, "repeat": 0}
        for name in ("repeat", "episode"):  # written episode first, so read from the end
            match = _SUFFIX.search(rest)
            if match is not None and match.group(1) == name:
                numbers[name] = int(match.group(2))
                rest = rest[: match.start()]
        return cls(rest, numbers["episode"], numbers["repeat"], resolved)

    def __str__(self) -> str:
        if self.week is not None:
            return f"{_DIGEST}{self.week}"
        text = f"{_RESOLVED}{self.dedup_key}" if self.is_resolved else self.dedup_key
        if self.episode_number:
            text += f":episode-{self.episode_number}"
        if self.repeat_number:
            text += f":repeat-{self.repeat_number}"
        return text

    def __repr__(self) -> str:
        return f"DeliveryKey({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeliveryKey) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


@dataclass(frozen=True, slots=True)
class Claimable:
    """A row to claim: (target, key), what it carries and the thread it belongs to."""

    target: str
    key: DeliveryKey
    summary: str
    payload: Mapping[str, Any]
    thread: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery-log row this process holds (state ``claimed``) and must send, then record."""

    target: str
    key: DeliveryKey
    payload: dict[str, Any]  # as stored: ``notify.payload.read_payload`` reads it
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery-log row as read back (health, dead letters, the last digest)."""

    target: str
    key: str
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    summary: str
    payload: dict[str, Any]
    thread: str | None = None
    external_id: str | None = None


class DeliveryLog:
    """The delivery log on ``engine``; every method is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(
        self,
        target: str,
        key: DeliveryKey,
        *,
        now: datetime,
        lease_seconds: int,
        summary: str,
        payload: Mapping[str, Any],
        thread: str | None = None,
    ) -> bool:
        """Insert a ``claimed`` row for (target, key); False if any row for it exists already."""
        item = Claimable(target, key, summary, payload, thread)
        return bool(self.claim_many([item], now=now, lease_seconds=lease_seconds))

    def claim_many(
        self, items: Sequence[Claimable], *, now: datetime, lease_seconds: int
    ) -> set[tuple[str, str]]:
        """``claim`` for many rows in one transaction; returns the (target, key) pairs inserted."""
        if not items:
            return set()
        statement = (
            insert_for(self.engine, delivery_table)
            .on_conflict_do_nothing(index_elements=["target", "key"])
            .returning(_T.target, _T.key)
        )
        inserted: set[tuple[str, str]] = set()
        # one statement, compiled once, sent in batches ("insertmanyvalues"); the rows are built a
        # slice at a time, so a fleet's claims never hold every encoded payload at once
        with self.engine.begin() as connection:
            for chunk in slices(items, CLAIM_BATCH):
                rows = [_claim_row(item, now=now, lease_seconds=lease_seconds) for item in chunk]
                inserted.update((target, key) for target, key in connection.execute(statement, rows))
        return inserted

    def take_due(self, *, now: datetime, lease_seconds: int) -> list[Claim]:
        """Claim every row due for a retry, or claimed by a process whose lease has expired."""
        due = _due(now)
        taken: list[Claim] = []
        with self.engine.begin() as connection:
            for row in connection.execute(select(delivery_table).where(due)).all():
                statement = (
                    update(delivery_table)
                    .where(_T.id == row.id, due)
                    .values(
                        state=DeliveryState.CLAIMED.value,
                        lease_until=now + timedelta(seconds=lease_seconds),
                    )
                )
                if connection.execute(statement).rowcount == 1:
                    key = DeliveryKey.parse(row.key)
                    taken.append(Claim(row.target, key, dict(row.payload), row.attempts, row.created_at))
        return taken

    def next_due(self, *, now: datetime) -> datetime | None:
        """When the earliest row not due yet becomes due: a retry's next attempt, or the end of
        a claim's lease (a process that died while sending); None when nothing waits."""
        retry = select(func.min(_T.next_attempt_at)).where(
            _T.state == DeliveryState.RETRY.value, _T.next_attempt_at > now
        )
        lease = select(func.min(_T.lease_until)).where(
            _T.state == DeliveryState.CLAIMED.value, _T.lease_until >= now
        )
        with self.engine.connect() as connection:
            times = [connection.execute(retry).scalar_one(), connection.execute(lease).scalar_one()]
        found = [moment for moment in times if moment is not None]
        return min(found) if found else None

    def pending(self, *, now: datetime) -> list[DeliveryRecord]:
        """Rows ``take_due`` would claim now (for dry runs), read-only."""
        return self._records(_due(now))

    def logged(self, target: str, keys: Sequence[DeliveryKey]) -> set[DeliveryKey]:
        """Which of ``keys`` have a row for ``target``, in any state."""
        return self._keys(target, keys, None)

    def sent_keys(self, target: str, keys: Sequence[DeliveryKey]) -> set[DeliveryKey]:
        """Which of ``keys`` were delivered to ``target``."""
        return self._keys(target, keys, DeliveryState.SENT)

    def _keys(
        self, target: str, keys: Sequence[DeliveryKey], state: DeliveryState | None
    ) -> set[DeliveryKey]:
        found: set[DeliveryKey] = set()
        with self.engine.connect() as connection:
            for chunk in slices([str(key) for key in keys], 400):
                query = select(_T.key).where(_T.target == target, _T.key.in_(chunk))
                if state is not None:
                    query = query.where(_T.state == state.value)
                found.update(DeliveryKey.parse(text) for text in connection.execute(query).scalars())
        return found

    def mark_sent(
        self,
        target: str,
        keys: Sequence[DeliveryKey],
        *,
        now: datetime,
        attempts: int = 1,
        external_id: str | None = None,
    ) -> None:
        """Record a delivery; ``external_id`` is what the server called the message (if anything)."""
        self._finish(
            target,
            keys,
            attempts,
            state=DeliveryState.SENT.value,
            sent_at=now,
            next_attempt_at=None,
            last_error=None,
            external_id=external_id[:255] if external_id else None,
        )

    def thread_roots(self, target: str, threads: Sequence[str]) -> dict[str, str]:
        """Thread -> the ``external_id`` of the first message sent to ``target`` in it (threads
        without a sent, identified message are left out)."""
        roots: dict[str, str] = {}
        with self.engine.connect() as connection:
            for chunk in slices(sorted(set(threads)), 400):
                query = (
                    select(_T.thread, _T.external_id)
                    .where(
                        _T.target == target,
                        _T.thread.in_(chunk),
                        _T.state == DeliveryState.SENT.value,
                        _T.external_id.is_not(None),
                    )
                    .order_by(_T.sent_at, _T.id)
                )
                for thread, external_id in connection.execute(query):
                    if thread is not None and external_id is not None:
                        roots.setdefault(thread, external_id)
        return roots

    def message_payloads(self, target: str, external_id: str) -> list[dict[str, Any]]:
        """The payloads of every row one message (``external_id``) carried to ``target``."""
        query = select(_T.payload).where(_T.target == target, _T.external_id == external_id).order_by(_T.id)
        with self.engine.connect() as connection:
            return [dict(payload) for payload in connection.execute(query).scalars()]

    def mark_failed(
        self,
        target: str,
        keys: Sequence[DeliveryKey],
        *,
        error: str,
        next_attempt_at: datetime | None,
        attempts: int = 1,
    ) -> None:
        """Record a failure: ``retry`` at ``next_attempt_at``, or ``dead`` when it is None."""
        state = DeliveryState.DEAD if next_attempt_at is None else DeliveryState.RETRY
        self._finish(
            target,
            keys,
            attempts,
            state=state.value,
            sent_at=None,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )

    def _finish(self, target: str, keys: Sequence[DeliveryKey], attempts: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            for chunk in slices([str(key) for key in keys], 400):
                connection.execute(
                    update(delivery_table)
                    .where(_T.target == target, _T.key.in_(chunk))
                    .values(
                        attempts=_T.attempts + attempts,
                        lease_until=None,
                        **{**values, "last_error": (values["last_error"] or "")[:2000] or None},
                    )
                )

    def redrive(self, *, now: datetime, target: str | None = None, key: DeliveryKey | None = None) -> int:
        """Put dead letters (optionally of one target or key) back in the queue, due at ``now``.

        For after an operator fixed what made them fail for good (a revoked token, an archived
        channel); the give-up clock starts again. Returns how many were re-queued.
        """
        conditions = [_T.state == DeliveryState.DEAD.value]
        if target is not None:
            conditions.append(_T.target == target)
        if key is not None:
            conditions.append(_T.key == str(key))
        with self.engine.begin() as connection:
            count = connection.execute(
                update(delivery_table)
                .where(and_(*conditions))
                .values(
                    state=DeliveryState.RETRY.value, next_attempt_at=now, created_at=now, lease_until=None
                )
            ).rowcount
        return int(count)

    def records(
        self, *, state: DeliveryState | None = None, target: str | None = None
    ) -> list[DeliveryRecord]:
        """Delivery-log rows, optionally one state (``DEAD`` for the dead letters) or target."""
        conditions = []
        if state is not None:
            conditions.append(_T.state == state.value)
        if target is not None:
            conditions.append(_T.target == target)
        return self._records(and_(true(), *conditions))

    def _records(self, condition: ColumnElement[bool]) -> list[DeliveryRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(delivery_table).where(condition).order_by(_T.id))
            return [_record(row) for row in rows]

    def revision(self) -> tuple[tuple[str, str, int, int, int], ...]:
        """The log's rows counted per (state, target), as ``(state, target, rows, ids, attempts)``:
        a value that changes with every claim, send, failure and redrive, for caches and metrics.

        Rows are never deleted and every change of state or attempts leaves or enters a row not
        yet sent, so those rows (few, found through the state index) carry the sums of their ids
        and attempts; sent rows are counted per target from the (target, key) index and carry
        the target's highest id. A probe stays cheap as the log grows.
        """
        unsent = [DeliveryState.CLAIMED.value, DeliveryState.RETRY.value, DeliveryState.DEAD.value]
        state, target, ident = _T.state, _T.target, _T.id
        pending = (
            select(state, target, func.count(), func.sum(ident))
            .add_columns(func.sum(_T.attempts))
            .where(state.in_(unsent))
            .group_by(state, target)
        )
        totals = select(target, func.count(), func.max(ident)).group_by(target)
        with self.engine.connect() as connection:
            rows = [
                (s, t, int(n), int(ids or 0), int(tries or 0))
                for s, t, n, ids, tries in connection.execute(pending)
            ]
            open_rows: dict[str, int] = {}
            for _, name, count, _, _ in rows:
                open_rows[name] = open_rows.get(name, 0) + count
            rows += [
                (DeliveryState.SENT.value, name, int(count) - open_rows.get(name, 0), int(top or 0), 0)
                for name, count, top in connection.execute(totals)
            ]
        return tuple(sorted(rows))

    def last_sent_digest(self, target: str) -> DeliveryRecord | None:
        """The newest delivered digest for ``target``."""
        query = (
            select(delivery_table)
            .where(_T.target == target, _T.key.startswith(_DIGEST), _T.state == DeliveryState.SENT.value)
            .order_by(_T.sent_at.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
            return None if row is None else _record(row)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(_T.state == DeliveryState.RETRY.value, _T.next_attempt_at <= now),
        and_(_T.state == DeliveryState.CLAIMED.value, _T.lease_until < now),
    )


def _record(row: Row[Any]) -> DeliveryRecord:
    return row_value(row, DeliveryRecord, state=DeliveryState(row.state), payload=dict(row.payload))


def _claim_row(item: Claimable, *, now: datetime, lease_seconds: int) -> dict[str, Any]:
    return {
        "target": item.target,
        "key": str(item.key),
        "state": DeliveryState.CLAIMED.value,
        "attempts": 0,
        "created_at": now,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "summary": item.summary[:512],
        "payload": dict(item.payload),
        "thread": item.thread[:512] if item.thread else None,
        "external_id": None,
    }
