"""Finding episodes: what each notify or digest run means for every finding it saw or no longer sees.

A finding reported for the first time is ``NEW``; reported again while open, ``CONTINUING``;
no longer reported, it ends: ``SUPERSEDED`` when another finding of its family replaced it on
the same deployment (rung 30 -> rung 14: nothing was fixed, no "resolved" goes out), else
``RESOLVED``. Reported again after it ended, it ``CAME_BACK``: a new episode, announced under
new delivery keys (``DeliveryKey.episode``). ``decide`` and ``step`` are pure; ``Episodes``
stores the result in ``finding_state``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Text, and_, bindparam, cast, false, or_, update
from sqlalchemy import select as core_select

from supportwatch.notify.log import DeliveryKey
from supportwatch.slices import slices
from supportwatch.tables import finding_state_table, insert_for

# rows written per statement (executemany): bounds the encoded parameters held at once
WRITE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Seen:
    """One finding as this run reports it; ``payload`` is its notice (``Notice.to_payload``)."""

    dedup_key: str
    kind: str
    severity: str
    deployment: str
    team: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FindingState:
    """What is known about one finding across runs: its current episode, open or ended."""

    dedup_key: str
    kind: str
    deployment: str
    team: str
    payload: dict[str, Any]
    first_seen_at: datetime  # when this episode began
    resolved_at: datetime | None
    superseded: bool
    episode: int = 0  # how many times it came back after it ended
    severity: str = ""
    last_seen_at: datetime | None = None

    @property
    def delivery_key(self) -> DeliveryKey:
        """The key this episode of the finding is announced under (see ``notify.plan``)."""
        return DeliveryKey.episode(self.dedup_key, self.episode)


class Change(StrEnum):
    NEW = "new"
    CONTINUING = "continuing"
    CAME_BACK = "came_back"
    RESOLVED = "resolved"
    SUPERSEDED = "superseded"


def decide(previous: FindingState | None, *, reported: bool, replaced: bool = False) -> Change | None:
    """What one run means for one finding; None: nothing (an ended finding still not reported).

    ``previous`` is its stored state (None: never seen), ``reported`` whether this run reports
    it, ``replaced`` whether another finding took its place (read only when it ends).
    """
    if reported:
        if previous is None:
            return Change.NEW
        return Change.CAME_BACK if previous.resolved_at is not None else Change.CONTINUING
    if previous is None or previous.resolved_at is not None:
        return None
    return Change.SUPERSEDED if replaced else Change.RESOLVED


def step(
    previous: FindingState | None,
    seen: Seen | None,
    *,
    now: datetime,
    superseded: Callable[[FindingState], bool],
) -> tuple[Change, FindingState] | None:
    """The change and the finding's next state when this run reports ``seen`` (None: not reported).

    ``superseded`` is asked, for a finding that ends now (its state as ended), whether
    something replaced it.
    """
    replaced = False
    if seen is None and previous is not None and previous.resolved_at is None:
        replaced = superseded(replace(previous, resolved_at=now))
    change = decide(previous, reported=seen is not None, replaced=replaced)
    if change is None:
        return None
    if change is Change.NEW:
        assert seen is not None
        return change, FindingState(
            dedup_key=seen.dedup_key,
            kind=seen.kind,
            deployment=seen.deployment,
            team=seen.team,
            payload=seen.payload,
            first_seen_at=now,
            resolved_at=None,
            superseded=False,
            episode=0,
            severity=seen.severity,
            last_seen_at=now,
        )
    assert previous is not None
    if seen is None:
        return change, replace(previous, resolved_at=now, superseded=change is Change.SUPERSEDED)
    state = replace(previous, last_seen_at=now, payload=seen.payload, severity=seen.severity)
    if change is Change.CAME_BACK:
        state = replace(
            state, first_seen_at=now, resolved_at=None, superseded=False, episode=state.episode + 1
        )
    return change, state


class Episodes:
    """Finding states on ``engine``; every method is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sync_findings(
        self,
        current: Sequence[Seen],
        *,
        now: datetime,
        superseded: Callable[[FindingState], bool],
        commit: bool = True,
        keep: Callable[[FindingState], bool] | None = None,
    ) -> dict[str, FindingState]:
        """Record the findings of this run (``step`` for each); returns every current one's state.

        New findings are inserted insert-or-nothing, then read back: a concurrent run may have
        created some. With ``commit=False`` (dry runs) nothing is written. An open finding this
        run does not report is left open when ``keep`` says so (this run knows nothing of it).

        Rows are read as plain tuples and their payloads are not decoded: a reported finding
        takes this run's payload (written only when its JSON differs), an ended one keeps the
        stored one; so ``superseded`` and ``keep`` see states whose ``payload`` is empty. A fleet's
        worth of findings costs a few megabytes at most, not an ORM object graph each run.
        """
        keys = {seen.dedup_key for seen in current}
        with self.engine.connect() as connection:
            stored = _stored(connection, or_(_TABLE.c.resolved_at.is_(None), _TABLE.c.dedup_key.in_(keys)))
            fresh = sorted({s.dedup_key: s for s in current if s.dedup_key not in stored}.values(), key=_key)
            if fresh:
                insert = insert_for(self.engine, _TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])
                for chunk in slices(fresh, WRITE_BATCH):
                    connection.execute(insert, [_values(_started(seen, now)) for seen in chunk])
                for names in slices([seen.dedup_key for seen in fresh], 400):
                    stored.update(_stored(connection, _TABLE.c.dedup_key.in_(names)))
            result: dict[str, FindingState] = {}
            changed_payloads: list[Seen] = []
            for seen in current:
                previous, payload_json = stored[seen.dedup_key]
                changed = step(previous, seen, now=now, superseded=superseded)
                assert changed is not None  # a reported finding always steps
                result[seen.dedup_key] = changed[1]
                if json.dumps(seen.payload) != payload_json:
                    changed_payloads.append(seen)
            ended: list[FindingState] = []
            for key, (state, _) in stored.items():
                if key not in keys and not (keep is not None and keep(state)):
                    stepped = step(state, None, now=now, superseded=superseded)
                    if stepped is not None:
                        ended.append(stepped[1])
            for states in slices([*result.values(), *ended], WRITE_BATCH):
                connection.execute(_UPDATE, [_changes(state) for state in states])
            for seens in slices(changed_payloads, WRITE_BATCH):
                connection.execute(
                    _UPDATE_PAYLOAD, [{"key": s.dedup_key, "new_payload": s.payload} for s in seens]
                )
            if commit:
                connection.commit()
            else:
                connection.rollback()
        return result

    def finding_states(
        self, *, opened_since: datetime | None = None, resolved_since: datetime | None = None
    ) -> list[FindingState]:
        """Findings first seen at or after ``opened_since`` and/or resolved (not superseded) since."""
        conditions: list[ColumnElement[bool]] = []
        if opened_since is not None:
            conditions.append(_TABLE.c.first_seen_at >= opened_since)
        if resolved_since is not None:
            conditions.append(and_(_TABLE.c.resolved_at >= resolved_since, _TABLE.c.superseded.is_(False)))
        query = (
            core_select(*_COLUMNS, _TABLE.c.payload).where(or_(false(), *conditions)).order_by(_TABLE.c.id)
        )
        with self.engine.connect() as connection:
            return [_state_of(row, payload=dict(row[-1])) for row in connection.execute(query)]


_TABLE = finding_state_table
# every field a step may change but the payload (written apart, only when it differs)
_STEPPED = ("first_seen_at", "last_seen_at", "resolved_at", "superseded", "episode", "severity")
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.dedup_key == bindparam("key"))
    .values({name: bindparam(f"new_{name}") for name in _STEPPED})
)
_UPDATE_PAYLOAD = (
    update(_TABLE).where(_TABLE.c.dedup_key == bindparam("key")).values(payload=bindparam("new_payload"))
)
# a finding state's columns in ``_state_of``'s order; the payload is read apart
_COLUMNS = (
    _TABLE.c.dedup_key,
    _TABLE.c.kind,
    _TABLE.c.deployment,
    _TABLE.c.team,
    _TABLE.c.first_seen_at,
    _TABLE.c.resolved_at,
    _TABLE.c.superseded,
    _TABLE.c.episode,
    _TABLE.c.severity,
    _TABLE.c.last_seen_at,
)


def _stored(connection: Connection, where: ColumnElement[bool]) -> dict[str, tuple[FindingState, str]]:
    """The rows ``where`` selects: each finding's state (without its payload) and stored JSON."""
    # the stored JSON as text: compared with this run's, never decoded here
    query = core_select(*_COLUMNS, cast(_TABLE.c.payload, Text)).where(where)
    return {row[0]: (_state_of(row, payload={}), row[-1]) for row in connection.execute(query)}


def _state_of(row: Sequence[Any], *, payload: dict[str, Any]) -> FindingState:
    return FindingState(
        dedup_key=row[0],
        kind=row[1],
        deployment=row[2],
        team=row[3],
        payload=payload,
        first_seen_at=row[4],
        resolved_at=row[5],
        superseded=bool(row[6]),
        episode=row[7],
        severity=row[8],
        last_seen_at=row[9],
    )


def _started(seen: Seen, now: datetime) -> FindingState:
    started = step(None, seen, now=now, superseded=_never)
    assert started is not None
    return started[1]


def _changes(state: FindingState) -> dict[str, Any]:
    return {"key": state.dedup_key, **{f"new_{name}": getattr(state, name) for name in _STEPPED}}


def _key(seen: Seen) -> str:
    return seen.dedup_key


def _never(_state: FindingState) -> bool:
    return False


def _values(state: FindingState) -> dict[str, Any]:
    return {
        "dedup_key": state.dedup_key,
        "kind": state.kind,
        "severity": state.severity,
        "deployment": state.deployment,
        "team": state.team,
        "payload": state.payload,
        "first_seen_at": state.first_seen_at,
        "last_seen_at": state.last_seen_at,
        "resolved_at": state.resolved_at,
        "superseded": state.superseded,
        "episode": state.episode,
    }
