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

from sqlalchemy import Connection, Engine, Row, Select, bindparam, delete, func, select, tuple_, update
from sqlalchemy.exc import DataError

from supportwatch.errors import SourceError
from supportwatch.slices import slices
from supportwatch.tables import (
    RELEASE_FACTS,
    insert_for,
    observation_table,
    release_table,
    row_value,
    source_state_table,
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
        with self.engine.begin() as connection:
            existing = self._observations_of(connection, source)
            missing = sorted(key for key in incoming if key not in existing)
            absent = missing
            for _try in range(3):
                if not absent:
                    break
                # insert-or-nothing, then read back: a concurrent run may have created some
                # (or, withdrawing them from an older config, deleted them again: then retry)
                rows = [_observation_values(source, url, incoming[key], seen_at) for key in absent]
                for chunk in slices(rows, 200):
                    connection.execute(
                        insert_for(self.engine, _OBS)
                        .values(chunk)
                        .on_conflict_do_nothing(index_elements=["component", "version", "source"])
                    )
                existing = self._observations_of(connection, source)
                absent = [key for key in incoming if key not in existing]
            if absent:
                raise RecordRefused(
                    f"source {source!r}: a concurrent run kept withdrawing its claims; try again"
                )
            touched: list[tuple[Component, str]] = list(missing)
            created = set(missing)
            claims: list[dict[str, Any]] = []
            for key, claim in incoming.items():
                row = existing[key]
                keep_date = not claim.released_on and not exhaustive
                release = replace(claim, released_on=row.released_on) if keep_date else claim
                matches = _observation_matches(row, url, release)
                if key not in created and not matches:
                    touched.append(key)
                if not matches or row.seen_at != seen_at:
                    claims.append({"row_id": row.id, "url": url, **_facts(release), "seen_at": seen_at})
            _update_rows(connection, _OBS, claims)
            if exhaustive:
                withdrawn = [(stored, row.id) for stored, row in existing.items() if stored not in incoming]
                if withdrawn:
                    # a plain DELETE: a concurrent run withdrawing the same claim is no error
                    touched.extend(cast("tuple[Component, str]", stored) for stored, _ in withdrawn)
                    ids = [ident for _, ident in withdrawn]
                    connection.execute(delete(_OBS).where(_OBS.c.id.in_(ids)))
            # only a changed claim can change the catalog: unchanged ones just refresh seen_at
            return self._reconcile(connection, touched, seen_at)

    def _observations_of(self, connection: Connection, source: str) -> dict[tuple[str, str], Row[Any]]:
        rows = connection.execute(select(_OBS).where(_OBS.c.source == source))
        return {(row.component, row.version): row for row in rows}

    def _reconcile(
        self, connection: Connection, keys: list[tuple[Component, str]], now: datetime
    ) -> tuple[list[tuple[Component, str]], list[tuple[Component, str]]]:
        observations: dict[tuple[str, str], list[Row[Any]]] = {}
        catalog: dict[tuple[str, str], Row[Any]] = {}
        for chunk in slices(keys, 400):
            for obs in connection.execute(select(_OBS).where(_pairs(_OBS, chunk))):
                observations.setdefault((obs.component, obs.version), []).append(obs)
            for rel in connection.execute(select(_REL).where(_pairs(_REL, chunk))):
                catalog[(rel.component, rel.version)] = rel
        new: list[tuple[Component, str]] = []
        changed: list[tuple[Component, str]] = []
        updates: list[dict[str, Any]] = []
        absent: dict[tuple[Component, str], dict[str, Any]] = {}
        for key in keys:
            effective = self._effective(observations.get(key, []))
            row = catalog.get(key)
            if row is None:
                absent[key] = effective
            elif _apply(row, effective, now, updates):
                changed.append(key)
        if absent:
            # insert-or-nothing: the run whose row went in reports the release as new; a row a
            # concurrent run created is read back and brought up to date like any other
            values = [
                {"component": key[0], "version": key[1], "first_seen_at": now, "updated_at": now, **eff}
                for key, eff in sorted(absent.items())
            ]
            created: set[tuple[str, str]] = set()
            for rows in slices(values, 200):
                statement = (
                    insert_for(self.engine, _REL)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["component", "version"])
                    .returning(_REL.c.component, _REL.c.version)
                )
                created.update((comp, version) for comp, version in connection.execute(statement))
            new.extend(key for key in absent if key in created)
            others = [key for key in absent if key not in created]
            for chunk in slices(others, 400):
                for rel in connection.execute(select(_REL).where(_pairs(_REL, chunk))).all():
                    key = cast("tuple[Component, str]", (rel.component, rel.version))
                    if _apply(rel, absent[key], now, updates):
                        changed.append(key)
        _update_rows(connection, _REL, updates)
        return new, changed

    def reconcile_all(self, now: datetime) -> int:
        """Recompute every release from its observations; returns how many changed.

        ``record`` reconciles only what a source changed, so this is what applies an edited
        source priority to versions no source has touched since.
        """
        with self.engine.begin() as connection:
            observations: dict[tuple[str, str], list[Row[Any]]] = {}
            for obs in connection.execute(select(_OBS)):
                observations.setdefault((obs.component, obs.version), []).append(obs)
            updates: list[dict[str, Any]] = []
            for row in connection.execute(select(_REL)).all():
                key = (row.component, row.version)
                if key in observations:
                    _apply(row, self._effective(observations[key]), now, updates)
            _update_rows(connection, _REL, updates)
        return len(updates)

    def _effective(self, rows: list[Row[Any]]) -> dict[str, Any]:
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
        query = select(_REL)
        obs_query = select(_OBS.c.component, _OBS.c.version, _OBS.c.source)
        if component is not None:
            query = query.where(_REL.c.component == component)
            obs_query = obs_query.where(_OBS.c.component == component)
        with self.engine.connect() as connection:
            seen: dict[tuple[str, str], list[str]] = {}
            for comp, version, source in connection.execute(obs_query):
                seen.setdefault((comp, version), []).append(source)
            return [
                row_value(row, Release, sources=tuple(sorted(seen.get((row.component, row.version), []))))
                for row in connection.execute(query)
                if withdrawn or (row.component, row.version) in seen
            ]

    def observations(self, component: Component, version: str) -> list[Observation]:
        """Every source's claim about one version."""
        query = select(_OBS).where(_OBS.c.component == component, _OBS.c.version == version)
        with self.engine.connect() as connection:
            return [row_value(row, Observation) for row in connection.execute(query)]

    def all_observations(self) -> list[Observation]:
        """Every source's claim about every version (for the date-conflict check)."""
        with self.engine.connect() as connection:
            return [row_value(row, Observation) for row in connection.execute(select(_OBS))]

    def source_state(self, name: str) -> SourceState | None:
        """The stored health and validators of one source, if it was ever polled."""
        with self.engine.connect() as connection:
            row = connection.execute(select(_STATE).where(_STATE.c.name == name)).first()
            return None if row is None else row_value(row, SourceState)

    def source_states(self) -> list[SourceState]:
        """Every polled source's health, by name."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(_STATE).order_by(_STATE.c.name))
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
            release, claim, state = _REL, _OBS, _STATE
            # one scalar each: a lone count(*) or max(id) is answered from the b-tree, not a scan
            statement: Select[Any] = select(
                select(func.count()).select_from(release).scalar_subquery(),
                select(func.max(release.c.updated_at)).scalar_subquery(),
                select(func.count()).select_from(claim).scalar_subquery(),
                select(func.max(claim.c.id)).scalar_subquery(),
                select(func.count()).select_from(state).scalar_subquery(),
                select(func.sum(state.c.consecutive_failures)).scalar_subquery(),
                select(func.max(state.c.last_attempt_at)).scalar_subquery(),
                select(func.max(state.c.last_success_at)).scalar_subquery(),
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
        statement = insert_for(self.engine, _STATE).values(name=state.name, **values)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={name: statement.excluded[name] for name in _STATE_FIELDS}
        )
        with self.engine.begin() as connection:
            connection.execute(statement)


_REL, _OBS, _STATE = release_table, observation_table, source_state_table
_STATE_FIELDS = tuple(item.name for item in fields(SourceState) if item.name != "name")


def _facts(release: Release) -> dict[str, Any]:
    """``release``'s facts (``RELEASE_FACTS``) as the tables hold them: image tags a sorted list."""
    facts = {name: getattr(release, name) for name in RELEASE_FACTS}
    facts["image_tags"] = sorted(release.image_tags)
    return facts


def _apply(row: Row[Any], facts: dict[str, Any], now: datetime, updates: list[dict[str, Any]]) -> bool:
    """Whether ``row`` differs from the reconciled ``facts``; if so, adds its UPDATE's values
    (``_update_rows``) to ``updates``."""
    if all(getattr(row, name) == value for name, value in facts.items()):
        return False
    updates.append({"row_id": row.id, **facts, "updated_at": now})
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


def _observation_matches(row: Row[Any], url: str | None, release: Release) -> bool:
    return row.url == url and all(getattr(row, name) == value for name, value in _facts(release).items())


def _pairs(table: Any, keys: Sequence[tuple[Component, str]]) -> Any:
    return tuple_(table.c.component, table.c.version).in_(keys)


def _update_rows(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """One UPDATE by id, run for each of ``rows`` (executemany): each dict holds ``row_id`` and
    the same column names, the values to set."""
    if rows:
        connection.execute(update(table).where(table.c.id == bindparam("row_id")), rows)
