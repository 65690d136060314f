"""``Store``: the catalog's SQL (the notification log keeps its own in ``notify/``).

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Select, delete, func, tuple_
from sqlalchemy import select as core_select
from sqlalchemy.exc import DataError
from sqlmodel import Session, col, select

from supportwatch.errors import SourceError
from supportwatch.tables import (
    RELEASE_FACTS,
    ObservationRow,
    ReleaseRow,
    SourceStateRow,
    insert_for,
    row_value,
    table_of,
)
from supportwatch.values import (
    ERROR_MAX,
    ETAG_MAX,
    LAST_MODIFIED_MAX,
    URL_MAX,
    Component,
    Observation,
    Release,
    SourceState,
    clean_text,
    storable,
)


class RecordRefused(SourceError):
    """The database refused what a source reported; nothing of that answer was stored."""


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What one ``Store.record`` call changed in the catalog."""

    new: tuple[tuple[Component, str], ...] = ()
    changed: tuple[tuple[Component, str], ...] = ()
    unchanged: int = 0
    refused: tuple[str, ...] = ()  # why each release that cannot be stored was left out


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
                        insert_for(self.engine, ObservationRow)
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
        absent: dict[tuple[Component, str], dict[str, Any]] = {}
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
            table = table_of(ReleaseRow)
            values = [
                {
                    "component": key[0],
                    "version": key[1],
                    "first_seen_at": now,
                    "updated_at": now,
                    **eff,
                }
                for key, eff in sorted(absent.items())
            ]
            created: set[tuple[str, str]] = set()
            for rows in _slices_of(values, 200):
                statement = (
                    insert_for(self.engine, ReleaseRow)
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

    def _effective(self, rows: list[ObservationRow]) -> dict[str, Any]:
        """The reconciled facts (``RELEASE_FACTS``) of one version from every source's claim."""
        ordered = sorted(rows, key=lambda row: (self._rank.get(row.source, len(self._rank)), row.source))
        return {
            "released_on": next((row.released_on for row in ordered if row.released_on), None),
            "app_version": next((row.app_version for row in ordered if row.app_version), None),
            "channel": ordered[0].channel if ordered else "stable",
            "yanked": any(row.yanked for row in ordered),
            "image_tags": sorted({tag for row in ordered for tag in row.image_tags}),
        }

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
                row_value(row, Release, sources=tuple(sorted(seen.get((row.component, row.version), []))))
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
            return [row_value(row, Observation) for row in rows]

    def all_observations(self) -> list[Observation]:
        """Every source's claim about every version (for the date-conflict check)."""
        with Session(self.engine) as session:
            return [row_value(row, Observation) for row in session.exec(select(ObservationRow))]

    def source_state(self, name: str) -> SourceState | None:
        """The stored health and validators of one source, if it was ever polled."""
        with Session(self.engine) as session:
            row = session.get(SourceStateRow, name)
            return None if row is None else row_value(row, SourceState)

    def source_states(self) -> list[SourceState]:
        """Every polled source's health, by name."""
        with Session(self.engine) as session:
            rows = session.exec(select(SourceStateRow).order_by(col(SourceStateRow.name)))
            return [row_value(row, SourceState) for row in rows]

    def revision(self) -> tuple[Any, ...]:
        """A fingerprint of everything the catalog's readers see, cheap enough for every request.

        One statement of aggregates, no rows: the releases' count and newest ``updated_at`` (a
        reconciled change; read from an index), the claims' count and highest id (a claim
        recorded or withdrawn), and the sources' states (count, newest attempt and success,
        failures in a row): every poll saves its source's state after recording, so a claim
        whose facts changed shows there.
        Rows carry their writer's clock: a change stamped earlier than the newest one (a host
        whose clock runs behind) shows only through the counts, ids and the next poll.
        """
        sql: str | None = getattr(self, "_revision_sql", None)
        if sql is None:
            release, claim, state = table_of(ReleaseRow), table_of(ObservationRow), table_of(SourceStateRow)
            # one scalar each: a lone count(*) or max(id) is answered from the b-tree, not a scan
            statement: Select[Any] = core_select(
                core_select(func.count()).select_from(release).scalar_subquery(),
                core_select(func.max(release.c.updated_at)).scalar_subquery(),
                core_select(func.count()).select_from(claim).scalar_subquery(),
                core_select(func.max(claim.c.id)).scalar_subquery(),
                core_select(func.count()).select_from(state).scalar_subquery(),
                core_select(func.sum(state.c.consecutive_failures)).scalar_subquery(),
                core_select(func.max(state.c.last_attempt_at)).scalar_subquery(),
                core_select(func.max(state.c.last_success_at)).scalar_subquery(),
            )
            # compiled once, run on the driver's cursor: the probe runs per request
            sql = self._revision_sql = str(statement.compile(dialect=self.engine.dialect))
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            row = cursor.fetchone()
            cursor.close()
        finally:
            connection.close()  # back to the pool
        return tuple(row or ())

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
        statement = insert_for(self.engine, SourceStateRow).values(name=state.name, **values)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={name: statement.excluded[name] for name in _STATE_FIELDS}
        )
        with Session(self.engine) as session:
            session.exec(statement)
            session.commit()


_STATE_FIELDS = tuple(item.name for item in fields(SourceState) if item.name != "name")


def _facts(release: Release) -> dict[str, Any]:
    """``release``'s facts (``RELEASE_FACTS``) as the tables hold them: image tags a sorted list."""
    facts = {name: getattr(release, name) for name in RELEASE_FACTS}
    facts["image_tags"] = sorted(release.image_tags)
    return facts


def _apply(row: ReleaseRow, facts: dict[str, Any], now: datetime) -> bool:
    """Bring ``row`` to the reconciled ``facts``; whether anything changed."""
    if all(getattr(row, name) == value for name, value in facts.items()):
        return False
    for name, value in facts.items():
        setattr(row, name, list(value) if isinstance(value, list) else value)
    row.updated_at = now
    return True


def _observation_values(source: str, url: str | None, release: Release, seen_at: datetime) -> dict[str, Any]:
    return {
        "component": release.component,
        "version": release.version,
        "source": source,
        "url": url,
        **_facts(release),
        "first_seen_at": seen_at,
        "seen_at": seen_at,
    }


def _cut(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


def _fitting(text: str | None, limit: int) -> str | None:
    return text if text is not None and len(text) <= limit and text.isprintable() else None


def _slices_of(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _observation_matches(row: ObservationRow, url: str | None, release: Release) -> bool:
    return row.url == url and all(getattr(row, name) == value for name, value in _facts(release).items())


def _update_observation(row: ObservationRow, url: str | None, release: Release, seen_at: datetime) -> None:
    row.url = url
    for name, value in _facts(release).items():
        setattr(row, name, value)
    row.seen_at = seen_at


def _chunks(items: list[tuple[Component, str]], size: int) -> Iterable[list[tuple[Component, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
