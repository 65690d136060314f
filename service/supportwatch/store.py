"""``Store``: the only code that speaks SQL.

Releases are recorded as observations per source (provenance) and reconciled into one
catalog row per (component, version). Nothing here ever deletes a release: a source that
stops listing a version leaves its rows in place.

Rows are created insert-or-nothing (``ON CONFLICT DO NOTHING``, then read back) and source
states upserted, on SQLite and PostgreSQL alike, so two processes recording the same facts at
the same moment both succeed. Every value is bounded to its column before it is written
(``values.storable``): a release that does not fit is refused and named in
``RecordResult.refused``, an over-long validator is dropped; a value the database still
refuses raises ``RecordRefused``, a ``SourceError``, so it fails that source, not the poll.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, create_engine, delete, event, false, or_, true, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError
from sqlmodel import Session, col, select

from supportwatch.errors import SourceError
from supportwatch.tables import (
    AckRow,
    DeliveryRow,
    FindingStateRow,
    ObservationRow,
    ReleaseRow,
    SourceStateRow,
)
from supportwatch.values import (
    ERROR_MAX,
    ETAG_MAX,
    LAST_MODIFIED_MAX,
    URL_MAX,
    Ack,
    Claim,
    Component,
    DeliveryRecord,
    FindingState,
    Observation,
    Release,
    SourceState,
    clean_text,
    storable,
)


class RecordRefused(SourceError):
    """The database refused what a source reported; nothing of that answer was stored."""


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
    refused: tuple[str, ...] = ()  # why each release that cannot be stored was left out


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
        self,
        source: str,
        url: str | None,
        releases: Iterable[Release],
        *,
        seen_at: datetime,
        exhaustive: bool = False,
    ) -> RecordResult:
        """Upsert what ``source`` reported at ``seen_at`` and reconcile the touched versions.

        A claim without a release date keeps the date ``source`` gave before: a feed that
        drops or reformats its dates must not erase the known ones. ``exhaustive`` (a static
        source: the config is the truth) withdraws the claims the source no longer makes and
        takes a missing date as meant; the releases themselves stay in the catalog.
        """
        incoming: dict[tuple[Component, str], Release] = {}
        refused: list[str] = []
        for item in releases:
            checked = storable(item)
            if isinstance(checked, str):
                refused.append(checked)
            else:
                incoming[(checked.component, checked.version)] = checked
        if not incoming and not exhaustive:
            return RecordResult(refused=tuple(refused))
        try:
            new, changed = self._record(source, _cut(url, URL_MAX), incoming, seen_at, exhaustive)
        except DataError as exc:
            reason = clean_text(str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__)
            raise RecordRefused(
                f"the database refused what source {source!r} reported ({reason[:300]}); "
                "nothing of this answer was stored"
            ) from None
        return RecordResult(
            new=tuple(new),
            changed=tuple(changed),
            unchanged=len(incoming) - len(new) - len(changed),
            refused=tuple(refused),
        )

    def _record(
        self,
        source: str,
        url: str | None,
        incoming: dict[tuple[Component, str], Release],
        seen_at: datetime,
        exhaustive: bool,
    ) -> tuple[list[tuple[Component, str]], list[tuple[Component, str]]]:
        with Session(self.engine) as session:
            existing = self._observations_of(session, source)
            missing = sorted(key for key in incoming if key not in existing)
            absent = missing
            for _try in range(3):
                if not absent:
                    break
                # insert-or-nothing, then read back: a concurrent run may have created some
                # (or, withdrawing them from an older config, deleted them again: then retry)
                rows = [_observation_values(source, url, incoming[key], seen_at) for key in absent]
                for chunk in _slices_of(rows, 200):
                    session.exec(
                        _insert_for(self.engine, _table(ObservationRow))
                        .values(chunk)
                        .on_conflict_do_nothing(index_elements=["component", "version", "source"])
                    )
                existing = self._observations_of(session, source)
                absent = [key for key in incoming if key not in existing]
            if absent:
                raise RecordRefused(
                    f"source {source!r}: a concurrent run kept withdrawing its claims; try again"
                )
            touched: list[tuple[Component, str]] = list(missing)
            created = set(missing)
            for key, claim in incoming.items():
                row = existing[key]
                keep_date = not claim.released_on and not exhaustive
                release = replace(claim, released_on=row.released_on) if keep_date else claim
                if key not in created and not _observation_matches(row, url, release):
                    touched.append(key)
                _update_observation(row, url, release, seen_at)
            if exhaustive:
                withdrawn = [(stored, row) for stored, row in existing.items() if stored not in incoming]
                if withdrawn:
                    # a plain DELETE: a concurrent run withdrawing the same claim is no error
                    ids = [row.id for _, row in withdrawn]
                    for stored, row in withdrawn:
                        session.expunge(row)
                        touched.append(cast("tuple[Component, str]", stored))
                    session.exec(delete(ObservationRow).where(col(ObservationRow.id).in_(ids)))
            session.flush()
            # only a changed claim can change the catalog: unchanged ones just refresh seen_at
            new, changed = self._reconcile(session, touched, seen_at)
            session.commit()
        return new, changed

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
        absent: dict[tuple[Component, str], _Effective] = {}
        for key in keys:
            effective = self._effective(observations.get(key, []))
            row = catalog.get(key)
            if row is None:
                absent[key] = effective
            elif _apply(row, effective, now):
                changed.append(key)
        if absent:
            # insert-or-nothing: the run whose row went in reports the release as new; a row a
            # concurrent run created is read back and brought up to date like any other
            table = _table(ReleaseRow)
            values = [
                {
                    "component": key[0],
                    "version": key[1],
                    "first_seen_at": now,
                    "updated_at": now,
                    **vars_of(eff),
                }
                for key, eff in sorted(absent.items())
            ]
            created: set[tuple[str, str]] = set()
            for rows in _slices_of(values, 200):
                statement = (
                    _insert_for(self.engine, table)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["component", "version"])
                    .returning(table.c.component, table.c.version)
                )
                created.update((comp, version) for comp, version in session.exec(statement))
            new.extend(key for key in absent if key in created)
            others = [key for key in absent if key not in created]
            for chunk in _chunks(others, 400):
                rel_pairs = tuple_(col(ReleaseRow.component), col(ReleaseRow.version)).in_(chunk)
                for rel in session.exec(select(ReleaseRow).where(rel_pairs)):
                    key = cast("tuple[Component, str]", (rel.component, rel.version))
                    if _apply(rel, absent[key], now):
                        changed.append(key)
        return new, changed

    def reconcile_all(self, now: datetime) -> int:
        """Recompute every release from its observations; returns how many changed.

        ``record`` reconciles only what a source changed, so this is what applies an edited
        source priority to versions no source has touched since.
        """
        with Session(self.engine) as session:
            observations: dict[tuple[str, str], list[ObservationRow]] = {}
            for obs in session.exec(select(ObservationRow)):
                observations.setdefault((obs.component, obs.version), []).append(obs)
            changed = sum(
                _apply(row, self._effective(observations.get((row.component, row.version), [])), now)
                for row in session.exec(select(ReleaseRow))
                if (row.component, row.version) in observations
            )
            session.commit()
        return changed

    def _effective(self, rows: list[ObservationRow]) -> _Effective:
        ordered = sorted(rows, key=lambda row: (self._rank.get(row.source, len(self._rank)), row.source))
        result = _Effective()
        result.released_on = next((row.released_on for row in ordered if row.released_on), None)
        result.app_version = next((row.app_version for row in ordered if row.app_version), None)
        result.channel = ordered[0].channel if ordered else "stable"
        result.yanked = any(row.yanked for row in ordered)
        result.image_tags = sorted({tag for row in ordered for tag in row.image_tags})
        return result

    def releases(self, component: Component | None = None, *, withdrawn: bool = False) -> list[Release]:
        """The reconciled catalog (optionally one component), each with the sources that saw it.

        A release whose every claim was withdrawn (an entry taken out of a static source) stays
        stored but is left out unless ``withdrawn``: nothing vouches for it any more.
        """
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
                if withdrawn or (row.component, row.version) in seen
            ]

    def observations(self, component: Component, version: str) -> list[Observation]:
        """Every source's claim about one version."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(ObservationRow).where(
                    col(ObservationRow.component) == component, col(ObservationRow.version) == version
                )
            )
            return [_observation_value(row) for row in rows]

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
        """Insert or replace one source's state (an upsert: two first saves at once both succeed).

        Every field is bounded to its column: an over-long validator is dropped (a cut one would
        never match), an over-long URL or error is cut, an error is cleaned of terminal controls.
        """
        values = {name: getattr(state, name) for name in _STATE_FIELDS}
        values["configured_url"] = _cut(state.configured_url, URL_MAX)
        values["url"] = _cut(state.url, URL_MAX)
        values["etag"] = _fitting(state.etag, ETAG_MAX)
        values["last_modified"] = _fitting(state.last_modified, LAST_MODIFIED_MAX)
        values["last_error"] = _cut(clean_text(state.last_error), ERROR_MAX) if state.last_error else None
        table = _table(SourceStateRow)
        statement = _insert_for(self.engine, table).values(name=state.name, **values)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={name: statement.excluded[name] for name in _STATE_FIELDS}
        )
        with Session(self.engine) as session:
            session.exec(statement)
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


def _observation_values(source: str, url: str | None, release: Release, seen_at: datetime) -> dict[str, Any]:
    return {
        "component": release.component,
        "version": release.version,
        "source": source,
        "url": url,
        "released_on": release.released_on,
        "app_version": release.app_version,
        "channel": release.channel,
        "yanked": release.yanked,
        "image_tags": sorted(release.image_tags),
        "first_seen_at": seen_at,
        "seen_at": seen_at,
    }


def _insert_for(engine: Engine, table: Table) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT`` (SQLite and PostgreSQL spell it alike)."""
    return pg_insert(table) if engine.dialect.name == "postgresql" else sqlite_insert(table)


def _table(model: Any) -> Table:
    # the Core table: an ORM-entity INSERT reports no reliable rowcount or RETURNING row
    return cast("Table", model.__table__)


def _cut(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


def _fitting(text: str | None, limit: int) -> str | None:
    return text if text is not None and len(text) <= limit and text.isprintable() else None


def _slices_of(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


# --- notifications -------------------------------------------------------------------------


class NotifyStore:
    """The delivery log, acks and finding state; every method is its own transaction.

    ``claim`` is insert-or-nothing on the unique (target, key): of any number of processes,
    exactly one gets the row. ``take_due`` re-claims rows whose retry time has come or whose
    claimer died (lease expired) with a conditional UPDATE, atomic on SQLite and PostgreSQL.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert(self, table: Any) -> Any:
        if self.engine.dialect.name == "postgresql":
            return pg_insert(table)
        return sqlite_insert(table)

    def claim(
        self,
        target: str,
        key: str,
        *,
        now: datetime,
        lease_seconds: int,
        summary: str,
        payload: dict[str, Any],
    ) -> bool:
        """Insert a ``claimed`` row for (target, key); False if any row for it exists already."""
        statement = (
            self._insert(_delivery_table())
            .values(
                target=target,
                key=key,
                state="claimed",
                attempts=0,
                created_at=now,
                lease_until=now + timedelta(seconds=lease_seconds),
                summary=summary[:512],
                payload=payload,
            )
            .on_conflict_do_nothing(index_elements=["target", "key"])
            .returning(_delivery_table().c.id)
        )
        with Session(self.engine) as session:
            inserted = session.exec(statement).first()
            session.commit()
            return inserted is not None

    def take_due(self, *, now: datetime, lease_seconds: int) -> list[Claim]:
        """Claim every row due for a retry, or claimed by a process whose lease has expired."""
        due = or_(
            and_(col(DeliveryRow.state) == "retry", col(DeliveryRow.next_attempt_at) <= now),
            and_(col(DeliveryRow.state) == "claimed", col(DeliveryRow.lease_until) < now),
        )
        taken: list[Claim] = []
        with Session(self.engine) as session:
            for row in session.exec(select(DeliveryRow).where(due)).all():
                statement = (
                    update(DeliveryRow)
                    .where(col(DeliveryRow.id) == row.id, due)
                    .values(state="claimed", lease_until=now + timedelta(seconds=lease_seconds))
                )
                if session.exec(statement).rowcount == 1:
                    taken.append(Claim(row.target, row.key, dict(row.payload), row.attempts, row.created_at))
            session.commit()
        return taken

    def pending(self, *, now: datetime) -> list[DeliveryRecord]:
        """Rows ``take_due`` would claim now (for dry runs), read-only."""
        due = or_(
            and_(col(DeliveryRow.state) == "retry", col(DeliveryRow.next_attempt_at) <= now),
            and_(col(DeliveryRow.state) == "claimed", col(DeliveryRow.lease_until) < now),
        )
        return self._records(due)

    def logged(self, target: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` have a row for ``target``, in any state."""
        return self._keys(target, keys, None)

    def sent_keys(self, target: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` were delivered to ``target``."""
        return self._keys(target, keys, "sent")

    def _keys(self, target: str, keys: Sequence[str], state: str | None) -> set[str]:
        found: set[str] = set()
        with Session(self.engine) as session:
            for chunk in _slices(list(keys), 400):
                query = select(col(DeliveryRow.key)).where(
                    col(DeliveryRow.target) == target, col(DeliveryRow.key).in_(chunk)
                )
                if state is not None:
                    query = query.where(col(DeliveryRow.state) == state)
                found.update(session.exec(query))
        return found

    def mark_sent(self, target: str, keys: Sequence[str], *, now: datetime, attempts: int = 1) -> None:
        self._finish(target, keys, attempts, state="sent", sent_at=now, next_attempt_at=None, last_error=None)

    def mark_failed(
        self,
        target: str,
        keys: Sequence[str],
        *,
        error: str,
        next_attempt_at: datetime | None,
        attempts: int = 1,
    ) -> None:
        """Record a failure: ``retry`` at ``next_attempt_at``, or ``dead`` when it is None."""
        state = "dead" if next_attempt_at is None else "retry"
        self._finish(
            target,
            keys,
            attempts,
            state=state,
            sent_at=None,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )

    def _finish(self, target: str, keys: Sequence[str], attempts: int, **values: Any) -> None:
        with Session(self.engine) as session:
            for chunk in _slices(list(keys), 400):
                session.exec(
                    update(DeliveryRow)
                    .where(col(DeliveryRow.target) == target, col(DeliveryRow.key).in_(chunk))
                    .values(
                        attempts=col(DeliveryRow.attempts) + attempts,
                        lease_until=None,
                        **{**values, "last_error": (values["last_error"] or "")[:2000] or None},
                    )
                )
            session.commit()

    def redrive(self, *, now: datetime, target: str | None = None, key: str | None = None) -> int:
        """Put dead letters (optionally of one target or key) back in the queue, due at ``now``.

        For after an operator fixed what made them fail for good (a revoked token, an archived
        channel); the give-up clock starts again. Returns how many were re-queued.
        """
        conditions = [col(DeliveryRow.state) == "dead"]
        if target is not None:
            conditions.append(col(DeliveryRow.target) == target)
        if key is not None:
            conditions.append(col(DeliveryRow.key) == key)
        with Session(self.engine) as session:
            count = session.exec(
                update(DeliveryRow)
                .where(and_(*conditions))
                .values(state="retry", next_attempt_at=now, created_at=now, lease_until=None)
            ).rowcount
            session.commit()
        return int(count)

    def records(self, *, state: str | None = None, target: str | None = None) -> list[DeliveryRecord]:
        """Delivery-log rows, optionally one state (``dead`` for the dead letters) or target."""
        conditions = []
        if state is not None:
            conditions.append(col(DeliveryRow.state) == state)
        if target is not None:
            conditions.append(col(DeliveryRow.target) == target)
        return self._records(and_(true(), *conditions))

    def _records(self, condition: Any) -> list[DeliveryRecord]:
        with Session(self.engine) as session:
            rows = session.exec(select(DeliveryRow).where(condition).order_by(col(DeliveryRow.id)))
            return [
                DeliveryRecord(
                    target=row.target,
                    key=row.key,
                    state=row.state,
                    attempts=row.attempts,
                    created_at=row.created_at,
                    next_attempt_at=row.next_attempt_at,
                    sent_at=row.sent_at,
                    last_error=row.last_error,
                    summary=row.summary,
                    payload=dict(row.payload),
                )
                for row in rows
            ]

    def last_sent_digest(self, target: str) -> DeliveryRecord | None:
        """The newest delivered digest for ``target``."""
        with Session(self.engine) as session:
            row = session.exec(
                select(DeliveryRow)
                .where(
                    col(DeliveryRow.target) == target,
                    col(DeliveryRow.key).startswith("digest:"),
                    col(DeliveryRow.state) == "sent",
                )
                .order_by(col(DeliveryRow.sent_at).desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return self._records(col(DeliveryRow.id) == row.id)[0]

    # --- acks ---------------------------------------------------------------------------

    def ack(self, dedup_key: str, *, until: datetime | None, now: datetime, note: str = "") -> Ack:
        """Silence ``dedup_key`` until ``until`` (None: until its facts change); replaces an older ack."""
        table = _table(AckRow)
        statement = _insert_for(self.engine, table).values(
            dedup_key=dedup_key, until=until, created_at=now, note=note
        )
        statement = statement.on_conflict_do_update(
            index_elements=["dedup_key"],
            set_={name: statement.excluded[name] for name in ("until", "created_at", "note")},
        )
        with Session(self.engine) as session:  # an upsert: two acks of one key at once both succeed
            session.exec(statement)
            session.commit()
        return Ack(dedup_key, until, now, note)

    def acks(self) -> list[Ack]:
        with Session(self.engine) as session:
            rows = session.exec(select(AckRow).order_by(col(AckRow.created_at)))
            return [Ack(row.dedup_key, row.until, row.created_at, row.note) for row in rows]

    # --- finding state ------------------------------------------------------------------

    def sync_findings(
        self,
        current: Sequence[tuple[str, str, str, str, str, dict[str, Any]]],
        *,
        now: datetime,
        superseded: Callable[[FindingState], bool],
        commit: bool = True,
    ) -> dict[str, FindingState]:
        """Record the findings of this run; findings no longer reported get ``resolved_at``.

        ``current`` holds (dedup_key, kind, severity, deployment, team, payload). ``superseded``
        decides, for each newly ended finding, whether something replaced it (no "resolved"
        message then). Returns the state of every current finding by key. With
        ``commit=False`` (dry runs) nothing is written.
        """
        keys = {item[0] for item in current}
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
            fresh = list({item[0]: item for item in current if item[0] not in rows}.values())
            if fresh:
                # insert-or-nothing, then read back: a concurrent run may have created some
                table = _table(FindingStateRow)
                values = [
                    {
                        "dedup_key": key, "kind": kind, "severity": severity, "deployment": deployment,
                        "team": team, "payload": payload, "first_seen_at": now, "last_seen_at": now,
                        "resolved_at": None, "superseded": False, "episode": 0,
                    }
                    for key, kind, severity, deployment, team, payload in sorted(fresh, key=lambda i: i[0])
                ]  # fmt: skip
                for chunk in _slices_of(values, 200):
                    session.exec(
                        _insert_for(self.engine, table)
                        .values(chunk)
                        .on_conflict_do_nothing(index_elements=["dedup_key"])
                    )
                for names in _slices([item[0] for item in fresh], 400):
                    for row in session.exec(
                        select(FindingStateRow).where(col(FindingStateRow.dedup_key).in_(names))
                    ):
                        rows[row.dedup_key] = row
            created = {item[0] for item in fresh}
            for key, _kind, severity, _deployment, _team, payload in current:
                row = rows[key]
                if key not in created and row.resolved_at is not None:
                    row.first_seen_at, row.resolved_at, row.superseded = now, None, False
                    row.episode += 1
                row.last_seen_at, row.payload, row.severity = now, payload, severity
                session.add(row)
            for key, row in rows.items():
                if key not in keys and row.resolved_at is None:
                    row.resolved_at = now
                    row.superseded = superseded(_state(row))
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


def _state(row: FindingStateRow) -> FindingState:
    return FindingState(
        dedup_key=row.dedup_key,
        kind=row.kind,
        deployment=row.deployment,
        team=row.team,
        payload=dict(row.payload),
        first_seen_at=row.first_seen_at,
        resolved_at=row.resolved_at,
        superseded=row.superseded,
        episode=row.episode,
    )


def _slices(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _delivery_table() -> Table:
    # the Core table: an ORM-entity INSERT reports no reliable rowcount or RETURNING row
    return DeliveryRow.metadata.tables["delivery"]
