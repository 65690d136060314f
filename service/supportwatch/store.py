"""``Store``: the only code that speaks SQL.

Releases are recorded as observations per source (provenance) and reconciled into one
catalog row per (component, version). Nothing here ever deletes a release: a source that
stops listing a version leaves its rows in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, tuple_
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from supportwatch.models import (
    Component,
    Observation,
    ObservationRow,
    Release,
    ReleaseRow,
    SourceState,
    SourceStateRow,
)


def create_engine_for(url: str) -> Engine:
    """The process's one engine for ``url``; SQLite gets WAL, a busy timeout and its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What one ``Store.record`` call changed in the catalog."""

    new: tuple[tuple[Component, str], ...] = ()
    changed: tuple[tuple[Component, str], ...] = ()
    unchanged: int = 0


@dataclass(slots=True)
class _Effective:
    released_on: date | None = None
    app_version: str | None = None
    channel: str = "stable"
    yanked: bool = False
    image_tags: list[str] = field(default_factory=list)


class Store:
    """Persistence for the catalog; every method opens and commits its own transaction.

    ``source_priority`` lists source names, most trusted first: it decides the effective
    release date, app version and channel when sources disagree.
    """

    def __init__(self, engine: Engine, *, source_priority: Sequence[str] = ()) -> None:
        self.engine = engine
        self._rank = {name: index for index, name in enumerate(source_priority)}

    def record(
        self, source: str, url: str | None, releases: Iterable[Release], *, seen_at: datetime
    ) -> RecordResult:
        """Upsert what ``source`` reported at ``seen_at`` and reconcile the touched versions."""
        incoming = {(item.component, item.version): item for item in releases}
        if not incoming:
            return RecordResult()
        with Session(self.engine) as session:
            existing = self._observations_of(session, source)
            unchanged = 0
            for key, release in incoming.items():
                row = existing.get(key)
                if row is None:
                    session.add(_new_observation(source, url, release, seen_at))
                    continue
                if _observation_matches(row, url, release):
                    unchanged += 1
                _update_observation(row, url, release, seen_at)
            session.flush()
            new, changed = self._reconcile(session, list(incoming), seen_at)
            session.commit()
        return RecordResult(
            new=tuple(new),
            changed=tuple(changed),
            unchanged=len(incoming) - len(new) - len(changed),
        )

    def _observations_of(self, session: Session, source: str) -> dict[tuple[str, str], ObservationRow]:
        rows = session.exec(select(ObservationRow).where(col(ObservationRow.source) == source))
        return {(row.component, row.version): row for row in rows}

    def _reconcile(
        self, session: Session, keys: list[tuple[Component, str]], now: datetime
    ) -> tuple[list[tuple[Component, str]], list[tuple[Component, str]]]:
        observations: dict[tuple[str, str], list[ObservationRow]] = {}
        catalog: dict[tuple[str, str], ReleaseRow] = {}
        for chunk in _chunks(keys, 400):
            pairs = tuple_(col(ObservationRow.component), col(ObservationRow.version)).in_(chunk)
            for obs in session.exec(select(ObservationRow).where(pairs)):
                observations.setdefault((obs.component, obs.version), []).append(obs)
            rel_pairs = tuple_(col(ReleaseRow.component), col(ReleaseRow.version)).in_(chunk)
            for rel in session.exec(select(ReleaseRow).where(rel_pairs)):
                catalog[(rel.component, rel.version)] = rel
        new: list[tuple[Component, str]] = []
        changed: list[tuple[Component, str]] = []
        for key in keys:
            effective = self._effective(observations.get(key, []))
            row = catalog.get(key)
            if row is None:
                session.add(
                    ReleaseRow(
                        component=key[0],
                        version=key[1],
                        first_seen_at=now,
                        updated_at=now,
                        **vars_of(effective),
                    )
                )
                new.append(key)
            elif _apply(row, effective, now):
                changed.append(key)
        return new, changed

    def _effective(self, rows: list[ObservationRow]) -> _Effective:
        ordered = sorted(rows, key=lambda row: (self._rank.get(row.source, len(self._rank)), row.source))
        result = _Effective()
        result.released_on = next((row.released_on for row in ordered if row.released_on), None)
        result.app_version = next((row.app_version for row in ordered if row.app_version), None)
        result.channel = ordered[0].channel if ordered else "stable"
        result.yanked = any(row.yanked for row in ordered)
        result.image_tags = sorted({tag for row in ordered for tag in row.image_tags})
        return result

    def releases(self, component: Component | None = None) -> list[Release]:
        """The reconciled catalog (optionally one component), each with the sources that saw it."""
        with Session(self.engine) as session:
            query = select(ReleaseRow)
            obs_query = select(
                col(ObservationRow.component), col(ObservationRow.version), col(ObservationRow.source)
            )
            if component is not None:
                query = query.where(col(ReleaseRow.component) == component)
                obs_query = obs_query.where(col(ObservationRow.component) == component)
            seen: dict[tuple[str, str], list[str]] = {}
            for comp, version, source in session.exec(obs_query):
                seen.setdefault((comp, version), []).append(source)
            return [
                _release_value(row, tuple(sorted(seen.get((row.component, row.version), []))))
                for row in session.exec(query)
            ]

    def observations(self, component: Component, version: str) -> list[Observation]:
        """Every source's claim about one version."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(ObservationRow).where(
                    col(ObservationRow.component) == component, col(ObservationRow.version) == version
                )
            )
            return [
                Observation(
                    component=row.component,  # type: ignore[arg-type]
                    version=row.version,
                    source=row.source,
                    url=row.url,
                    released_on=row.released_on,
                    first_seen_at=row.first_seen_at,
                    seen_at=row.seen_at,
                )
                for row in rows
            ]

    def all_observations(self) -> list[Observation]:
        """Every source's claim about every version (for the date-conflict check)."""
        with Session(self.engine) as session:
            return [_observation_value(row) for row in session.exec(select(ObservationRow))]

    def source_state(self, name: str) -> SourceState | None:
        """The stored health and validators of one source, if it was ever polled."""
        with Session(self.engine) as session:
            row = session.get(SourceStateRow, name)
            return None if row is None else _state_value(row)

    def source_states(self) -> list[SourceState]:
        """Every polled source's health, by name."""
        with Session(self.engine) as session:
            rows = session.exec(select(SourceStateRow).order_by(col(SourceStateRow.name)))
            return [_state_value(row) for row in rows]

    def save_source_state(self, state: SourceState) -> None:
        """Insert or replace one source's state."""
        with Session(self.engine) as session:
            row = session.get(SourceStateRow, state.name) or SourceStateRow(name=state.name)
            for name in _STATE_FIELDS:
                setattr(row, name, getattr(state, name))
            session.add(row)
            session.commit()


_STATE_FIELDS = tuple(item.name for item in fields(SourceState) if item.name != "name")


def _state_value(row: SourceStateRow) -> SourceState:
    return SourceState(name=row.name, **{name: getattr(row, name) for name in _STATE_FIELDS})


def _observation_value(row: ObservationRow) -> Observation:
    return Observation(
        component=row.component,  # type: ignore[arg-type]
        version=row.version,
        source=row.source,
        url=row.url,
        released_on=row.released_on,
        first_seen_at=row.first_seen_at,
        seen_at=row.seen_at,
    )


def vars_of(effective: _Effective) -> dict[str, Any]:
    return {
        "released_on": effective.released_on,
        "app_version": effective.app_version,
        "channel": effective.channel,
        "yanked": effective.yanked,
        "image_tags": list(effective.image_tags),
    }


def _apply(row: ReleaseRow, effective: _Effective, now: datetime) -> bool:
    values = vars_of(effective)
    if all(getattr(row, name) == value for name, value in values.items()):
        return False
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    return True


def _new_observation(source: str, url: str | None, release: Release, seen_at: datetime) -> ObservationRow:
    return ObservationRow(
        component=release.component,
        version=release.version,
        source=source,
        url=url,
        released_on=release.released_on,
        app_version=release.app_version,
        channel=release.channel,
        yanked=release.yanked,
        image_tags=sorted(release.image_tags),
        first_seen_at=seen_at,
        seen_at=seen_at,
    )


def _observation_matches(row: ObservationRow, url: str | None, release: Release) -> bool:
    return (
        row.url == url
        and row.released_on == release.released_on
        and row.app_version == release.app_version
        and row.channel == release.channel
        and row.yanked == release.yanked
        and list(row.image_tags) == sorted(release.image_tags)
    )


def _update_observation(row: ObservationRow, url: str | None, release: Release, seen_at: datetime) -> None:
    row.url = url
    row.released_on = release.released_on
    row.app_version = release.app_version
    row.channel = release.channel
    row.yanked = release.yanked
    row.image_tags = sorted(release.image_tags)
    row.seen_at = seen_at


def _release_value(row: ReleaseRow, sources: tuple[str, ...]) -> Release:
    return Release(
        component=row.component,  # type: ignore[arg-type]
        version=row.version,
        released_on=row.released_on,
        app_version=row.app_version,
        image_tags=tuple(row.image_tags),
        channel=row.channel,
        yanked=row.yanked,
        sources=sources,
    )


def _chunks(items: list[tuple[Component, str]], size: int) -> Iterable[list[tuple[Component, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
