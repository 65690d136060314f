"""Finding episodes: what each notify or digest run means for every finding it saw or no longer sees.

A finding reported for the first time is ``NEW``; reported again while open, ``CONTINUING``;
no longer reported, it ends: ``SUPERSEDED`` when another finding of its family replaced it on
the same deployment (rung 30 -> rung 14: nothing was fixed, no "resolved" goes out), else
``RESOLVED``. Reported again after it ended, it ``CAME_BACK``: a new episode, announced under
new delivery keys (``DeliveryKey.episode``). ``decide`` and ``step`` are pure; ``Episodes``
stores the result in ``finding_state``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, false, or_
from sqlmodel import Session, col, select

from supportwatch.notify.log import DeliveryKey
from supportwatch.notify.sql import slices
from supportwatch.tables import FindingStateRow, insert_for, row_value


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
        """
        keys = {seen.dedup_key for seen in current}
        with Session(self.engine) as session:
            rows = {
                row.dedup_key: row
                for row in session.exec(
                    select(FindingStateRow).where(
                        or_(
                            col(FindingStateRow.resolved_at).is_(None),
                            col(FindingStateRow.dedup_key).in_(keys),
                        )
                    )
                )
            }
            fresh = sorted({s.dedup_key: s for s in current if s.dedup_key not in rows}.values(), key=_key)
            if fresh:
                values = []
                for seen in fresh:
                    started = step(None, seen, now=now, superseded=_never)
                    assert started is not None
                    values.append(_values(started[1]))
                # one statement for every row: compiled once, sent in batches (executemany)
                session.connection().execute(
                    insert_for(self.engine, FindingStateRow).on_conflict_do_nothing(
                        index_elements=["dedup_key"]
                    ),
                    values,
                )
                for names in slices([seen.dedup_key for seen in fresh], 400):
                    query = select(FindingStateRow).where(col(FindingStateRow.dedup_key).in_(names))
                    rows.update((row.dedup_key, row) for row in session.exec(query))
            for seen in current:
                row = rows[seen.dedup_key]
                _write(row, step(_state(row), seen, now=now, superseded=superseded))
                session.add(row)
            for key, row in rows.items():
                if key not in keys and not (keep is not None and keep(_state(row))):
                    _write(row, step(_state(row), None, now=now, superseded=superseded))
                    session.add(row)
            session.flush()
            result = {key: _state(rows[key]) for key in keys}
            if commit:
                session.commit()
            else:
                session.rollback()
        return result

    def finding_states(
        self, *, opened_since: datetime | None = None, resolved_since: datetime | None = None
    ) -> list[FindingState]:
        """Findings first seen at or after ``opened_since`` and/or resolved (not superseded) since."""
        conditions = []
        if opened_since is not None:
            conditions.append(col(FindingStateRow.first_seen_at) >= opened_since)
        if resolved_since is not None:
            conditions.append(
                and_(
                    col(FindingStateRow.resolved_at) >= resolved_since,
                    col(FindingStateRow.superseded).is_(False),
                )
            )
        with Session(self.engine) as session:
            rows = session.exec(
                select(FindingStateRow).where(or_(false(), *conditions)).order_by(col(FindingStateRow.id))
            )
            return [_state(row) for row in rows]


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


def _write(row: FindingStateRow, changed: tuple[Change, FindingState] | None) -> None:
    """Copy what a step may change onto ``row``; the finding's identity stays as stored."""
    if changed is None:
        return
    state = changed[1]
    row.first_seen_at, row.resolved_at, row.superseded = (
        state.first_seen_at,
        state.resolved_at,
        state.superseded,
    )
    row.episode, row.payload, row.severity = state.episode, state.payload, state.severity
    if state.last_seen_at is not None:
        row.last_seen_at = state.last_seen_at


def _state(row: FindingStateRow) -> FindingState:
    return row_value(row, FindingState, payload=dict(row.payload))
