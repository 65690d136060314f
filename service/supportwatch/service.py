"""``Service``: the composition of config, store, sources and checks.

Each scheduled job and each CLI command is one method here, so the daemon and a one-off run
share one code path. Methods take ``now`` so that ``--at`` and tests can move time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate, evaluation_day
from supportwatch.config import Settings
from supportwatch.engine import create_engine_for
from supportwatch.errors import StoreError
from supportwatch.health import date_conflict_findings, stale_findings
from supportwatch.migrations import current_revision, head_revision, upgrade
from supportwatch.notify.log import DeliveryKey, DeliveryLog, DeliveryRecord, DeliveryState
from supportwatch.notify.silences import Ack, Silences
from supportwatch.sources.poll import PollOutcome, poll_one, poll_sources
from supportwatch.sources.urls import display
from supportwatch.sources.wiring import build_sources, is_polled, polled_names
from supportwatch.store import Store
from supportwatch.tokens import CalendarTokens, cookie_value, secret_matches
from supportwatch.values import Component, Deployment, Finding, Release, SourceState

# The HTTP client, the source parsers and the notifiers are imported where they are used:
# `check` is a CI gate run on every pipeline, and it needs none of them.
if TYPE_CHECKING:
    import httpx

    from supportwatch.notify.delivery import DeliveryReport
    from supportwatch.notify.episodes import FindingState
    from supportwatch.notify.jobs import Notifications
    from supportwatch.notify.wiring import NotifyRuntime
    from supportwatch.sources.http import Fetcher
    from supportwatch.sources.result import Source

__all__ = ["DatabaseFile", "PollOutcome", "Readiness", "Service", "SourceStatus", "UnknownTeam"]


class UnknownTeam(LookupError):
    """``team`` owns no tracked deployment; the message names the teams that do."""

    def __init__(self, team: str, known: Sequence[str]) -> None:
        super().__init__(
            f"team {team!r} owns no tracked deployment; known teams: {', '.join(known) or 'none'}"
        )
        self.team = team
        self.known = tuple(known)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One configured source as operators see it: its ``url`` without credentials or query,
    whether it is ``polled`` (else applied before every command), and its stored state."""

    name: str
    kind: str
    url: str | None
    polled: bool
    state: SourceState


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the service can serve (``problem`` is None) and the schema ``revision`` it found."""

    revision: str | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DatabaseFile:
    """The SQLite file the service opened: its path and identity (device, inode) at that time."""

    path: str
    device: int
    inode: int

    @classmethod
    def of(cls, url: URL) -> DatabaseFile | None:
        """The file behind a SQLite URL as it is now; None for other backends, memory or no file."""
        database = url.database
        if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return None
        if database.startswith("file:"):  # a URI filename: its path is not the string itself
            return None
        path = os.path.abspath(database)
        try:
            found = os.stat(path)
        except OSError:
            return None
        return cls(path, found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """Why the path no longer leads to the opened file (deleted, replaced), or None."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return (
                f"the SQLite database file {self.path} was deleted under the running service: "
                "what it writes now is lost; restore the file or restart supportwatch"
            )
        except OSError as exc:
            return f"the SQLite database file {self.path} cannot be checked ({type(exc).__name__})"
        if (found.st_dev, found.st_ino) != (self.device, self.inode):
            return (
                f"the SQLite database file {self.path} was replaced by another file under the running "
                "service (device/inode changed): it still uses the old one; restart supportwatch"
            )
        return None


@dataclass
class Service:
    """One process's wiring: the settings, the one engine and the store on it."""

    settings: Settings
    engine: Engine
    store: Store
    # the notifiers' clock, sleep and TLS context; tests inject fakes, None builds the real one
    notify_runtime: NotifyRuntime | None = None
    # the one HTTP client is created on the first poll and closed by
    # close(); tests may set ``fetcher`` (with their own client and sleep) instead
    fetcher: Fetcher | None = None
    _client: httpx.Client | None = field(default=None, repr=False)
    _sources: dict[str, Source] | None = field(default=None, repr=False)
    _applied: dict[str, Source] | None = field(default=None, repr=False)
    # the last evaluation and what it was computed from: (day, releases) -> reports
    _evaluated: tuple[tuple[date, tuple[Release, ...]], list[DeploymentReport]] | None = field(
        default=None, repr=False
    )
    # the SQLite file as it was when the service was built (readiness checks the path still leads to it)
    database_file: DatabaseFile | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.database_file = DatabaseFile.of(self.engine.url)

    @classmethod
    def open(
        cls, settings: Settings, *, migrate: bool | None = None, migrator: Callable[[Engine], bool] = upgrade
    ) -> Service:
        """Build the engine and store; SQLite databases are migrated automatically (by
        ``migrator``: a long-lived process passes ``upgrade_in_child``)."""
        engine = create_engine_for(settings.database_url)
        if migrate if migrate is not None else engine.dialect.name == "sqlite":
            try:
                migrator(engine)
            except BaseException:
                engine.dispose()
                raise
        elif (current := current_revision(engine)) != (head := head_revision()):
            engine.dispose()
            raise StoreError(
                f"the database is at schema revision {current or 'none'}, this supportwatch needs {head}: "
                "run `supportwatch db upgrade`"
            )
        return cls(settings, engine, Store(engine, source_priority=settings.source_priority()))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.engine.dispose()

    # --- sources ------------------------------------------------------------------------

    def _fetcher(self) -> Fetcher:
        """The one fetcher, on the process's HTTP client (created here, closed by ``close``)."""
        from supportwatch.sources.http import Fetcher, make_client  # noqa: PLC0415 - see the imports

        if self.fetcher is None:
            self._client = make_client(self.settings.http)
            self.fetcher = Fetcher(self._client, self.settings.http)
        return self.fetcher

    def sources(self) -> dict[str, Source]:
        """The polled sources (enabled, of a polled kind) by name, built once."""
        if self._sources is None:
            self._sources = build_sources(self.settings.sources, self._fetcher, polled=True)
        return self._sources

    def poll(
        self, now: datetime, only: str | None = None, *, accept_shrink: bool = False
    ) -> list[PollOutcome]:
        """Poll every polled source (or only the one named); see ``sources.poll.poll_sources``.

        ``accept_shrink`` takes an answer that lost more than half of the versions as the new
        baseline (an operator's decision after a source really dropped them; never automatic).
        Raises ``ConfigError`` when ``only`` names no polled source.
        """
        return poll_sources(self.store, self.sources(), now, only=only, accept_shrink=accept_shrink)

    def apply_static(self, now: datetime) -> int:
        """Apply the sources whose releases are at hand (the config's ``static`` ones), as every
        command does first; returns how many versions were new."""
        if self._applied is None:
            self._applied = build_sources(self.settings.sources, self._fetcher, polled=False)
        return sum(poll_one(self.store, source, now).new for source in self._applied.values())

    def health_findings(self, now: datetime) -> list[Finding]:
        """Data health as of ``now``: stale sources, then release dates the sources disagree on."""
        polled = set(polled_names(self.settings.sources))
        states = [state for state in self.store.source_states() if state.name in polled]
        health = self.settings.source_health
        return stale_findings(states, health, now=now) + date_conflict_findings(
            self.store.all_observations(),
            priority=self.settings.source_priority(),
            max_days=health.date_conflict_days,
        )

    def source_states(self) -> list[SourceState]:
        """Every stored source state, by name."""
        return self.store.source_states()

    def source_statuses(self) -> list[SourceStatus]:
        """Each configured source, in config order, with its stored state (fresh if never read)."""
        stored = {item.name: item for item in self.store.source_states()}
        statuses = []
        for config in self.settings.sources:
            state = stored.get(config.name) or SourceState(name=config.name)
            url = state.url or getattr(config, "url", None)
            shown = display(url) if url else None
            statuses.append(SourceStatus(config.name, config.kind, shown, is_polled(config), state))
        return statuses

    # --- the catalog and the deployments -------------------------------------------------

    def releases(self, component: Component | None = None) -> list[Release]:
        """The reconciled catalog (optionally one component), each with the sources that saw it."""
        return self.store.releases(component)

    def catalog(self, now: datetime) -> Catalog:
        """The catalog as of the day ``now`` falls on in the configured time zone."""
        return Catalog.build(
            self.store.releases(),
            policy=self.settings.maintenance_policy(),
            today=evaluation_day(now, self.settings.tz),
        )

    def evaluate(self, now: datetime) -> list[DeploymentReport]:
        """Every tracked deployment's report as of ``now``.

        Reports depend only on the day and the catalog (the settings are fixed for the process),
        so a repeat for the same day and catalog is served from the last evaluation.
        """
        releases = tuple(self.store.releases())
        key = (evaluation_day(now, self.settings.tz), releases)
        cached = self._evaluated
        if cached is not None and cached[0] == key:
            return list(cached[1])
        reports = evaluate(
            self.settings.deployment_values(),
            releases,
            self.settings.maintenance_policy(),
            rules=self.settings.rules(),
            now=now,
            tz=self.settings.tz,
        )
        self._evaluated = (key, reports)
        return list(reports)

    def teams(self, now: datetime) -> list[str]:
        """The teams that own at least one tracked deployment, sorted."""
        return sorted({report.deployment.team for report in self.evaluate(now)})

    def reports(self, now: datetime, team: str | None = None) -> list[DeploymentReport]:
        """``evaluate(now)``, or only ``team``'s reports; raises ``UnknownTeam`` for a team that
        owns no tracked deployment."""
        reports = self.evaluate(now)
        if team is None:
            return reports
        chosen = [report for report in reports if report.deployment.team == team]
        if not chosen:
            raise UnknownTeam(team, sorted({report.deployment.team for report in reports}))
        return chosen

    def calendar(self, now: datetime, team: str | None = None) -> bytes:
        """The ICS feed as of ``now``: every agent minor's window and end, or only the minors
        ``team``'s deployments run (naming them). Raises ``UnknownTeam`` for an unknown team."""
        from supportwatch.calendar import feed  # noqa: PLC0415 - icalendar only for the feed

        # only a team's feed needs the evaluation (which minors its deployments run)
        reports = self.reports(now, team) if team is not None else []
        return feed(self.catalog(now), reports, now=now, tz=self.settings.tz, team=team)

    # --- cheap reads for caches: what a view depends on, and views without an evaluation ---

    def revision(self) -> tuple[object, ...]:
        """A fingerprint of the store that changes whenever releases, the sources' claims or the
        sources' states do (``Store.revision``): one cheap query, so a cache keyed on it and on
        the day can probe it on every request and still see a poll at once, on every replica."""
        return self.store.revision()

    def delivery_revision(self) -> tuple[tuple[str, str, int, int, int], ...]:
        """The delivery log counted per (state, target) (``DeliveryLog.revision``): it changes
        with every claim, send, failure and redrive."""
        return DeliveryLog(self.engine).revision()

    def tracked(self, team: str | None = None) -> list[Deployment]:
        """The tracked deployments as configured, or only ``team``'s, without evaluating them;
        raises ``UnknownTeam`` for a team that owns no tracked deployment."""
        deployments = self.settings.deployment_values()
        if team is None:
            return deployments
        chosen = [deployment for deployment in deployments if deployment.team == team]
        if not chosen:
            raise UnknownTeam(team, sorted({deployment.team for deployment in deployments}))
        return chosen

    def feed(self, now: datetime, team: str | None = None, *, catalog: Catalog | None = None) -> bytes:
        """The bytes of ``calendar(now, team)`` without evaluating the fleet: a team's feed needs
        only the catalog and the agent minors its deployments run, read off their image tags.
        ``catalog``: the catalog as of ``now``'s day, when the caller holds it already. Raises
        ``UnknownTeam`` for a team that owns no tracked deployment."""
        from supportwatch.calendar import feed  # noqa: PLC0415 - icalendar only for the feed

        deployments = self.tracked(team) if team is not None else []
        catalog = catalog if catalog is not None else self.catalog(now)
        return feed(catalog, deployments, now=now, tz=self.settings.tz, team=team)

    def data_health(self, now: datetime) -> tuple[list[Finding], datetime | None]:
        """``health_findings(now)`` and the last instant they hold while the store is unchanged
        (None: until it changes). Only time turns a source stale by itself: one that answered
        before, once silent for more than ``source_health.stale_hours``."""
        polled = set(polled_names(self.settings.sources))
        silent = timedelta(hours=self.settings.source_health.stale_hours)
        deadlines = [
            state.last_success_at + silent
            for state in self.store.source_states()
            if state.name in polled and state.last_success_at is not None
            if state.last_success_at + silent >= now
        ]
        return self.health_findings(now), min(deadlines, default=None)

    # --- calendar feed tokens and the read token (``supportwatch.tokens``) ----------------

    def issue_calendar_token(self, team: str, now: datetime, *, rotate: bool = False) -> str:
        """A new calendar feed token for ``team``, returned once: only its hash is stored.

        Raises ``UnknownTeam`` for a team that owns no tracked deployment, and ``TokenExists``
        when the team has a token and ``rotate`` is False (rotating ends the old one).
        """
        self.reports(now, team)
        return CalendarTokens(self.engine).issue(team, now=now, rotate=rotate)

    def calendar_token_matches(self, team: str, token: str | None) -> bool:
        """Whether ``token`` is ``team``'s current calendar feed token (compared in constant time)."""
        return CalendarTokens(self.engine).matches(team, token)

    def read_token_matches(self, token: str | None) -> bool:
        """Whether ``token`` is the configured read token (``web.read_token_file``); False if none."""
        secret = self.settings.web.read_token
        return secret is not None and secret_matches(token, secret.get_secret_value())

    def read_cookie_matches(self, value: str | None) -> bool:
        """Whether ``value`` is the read cookie (``tokens.cookie_value`` of the read token)."""
        secret = self.settings.web.read_token
        return secret is not None and secret_matches(value, cookie_value(secret.get_secret_value()))

    def readiness(self) -> Readiness:
        """Whether the database answers at the schema revision this version needs and (SQLite)
        its path still leads to the file the service opened; if not, why."""
        if self.database_file is not None and (problem := self.database_file.problem()):
            return Readiness(None, problem)
        head = head_revision()
        try:
            current = current_revision(self.engine)
        except SQLAlchemyError as exc:
            # the driver's message may name the host, user or password: only its type is shown
            return Readiness(
                None, f"database unreachable ({type(exc).__name__}); check database_url and the server"
            )
        if current != head:
            return Readiness(
                current,
                f"database at schema revision {current or 'none'}, this supportwatch needs {head}: "
                "run `supportwatch db upgrade`",
            )
        return Readiness(head)

    # --- notifications ------------------------------------------------------------------

    def notifications(self) -> Notifications:
        from supportwatch.notify.jobs import Notifications  # noqa: PLC0415 - see the imports
        from supportwatch.notify.wiring import NotifyRuntime  # noqa: PLC0415

        if self.notify_runtime is None:
            self.notify_runtime = NotifyRuntime()
        return Notifications(self.settings, self.engine, self.notify_runtime)

    def notify(self, now: datetime, dry_run: bool = False) -> DeliveryReport:
        """Evaluate and deliver what is due, once (DESIGN §3 step 3); ``dry_run`` only previews."""
        return self.notifications().notify(
            self.evaluate(now), now=now, dry_run=dry_run, health=self.health_findings(now)
        )

    def next_delivery_due(self, now: datetime) -> datetime | None:
        """When a delivery not due at ``now`` becomes due: a retry, or a dead sender's claim."""
        return self.notifications().log.next_due(now=now)

    def digest(
        self,
        now: datetime,
        receiver: str | None = None,
        dry_run: bool = False,
        *,
        scheduled: bool = False,
        health: list[Finding] | None = None,
    ) -> DeliveryReport:
        """The weekly digest per receiver, once per ISO week (DESIGN §3 step 4).

        ``scheduled=True`` (the scheduler, also at start-up) sends the latest week whose
        digest moment has passed, so a week missed while down goes out late. ``health``
        (data-health findings) defaults to ``health_findings(now)``.
        """
        if health is None:
            health = self.health_findings(now)
        reports = self.evaluate(now)
        return self.notifications().digest(
            reports,
            releases=self.store.releases(),
            health=health,
            now=now,
            receiver=receiver,
            dry_run=dry_run,
            scheduled=scheduled,
        )

    def ack(self, dedup_key: str, *, until: datetime | None, now: datetime, note: str = "") -> Ack:
        """Silence a finding until ``until``, or (None) until its facts change."""
        return Silences(self.engine).ack(dedup_key, until=until, now=now, note=note)

    def acks(self) -> list[Ack]:
        return Silences(self.engine).acks()

    def redrive(self, now: datetime, *, target: str | None = None, key: str | None = None) -> int:
        """Re-queue dead letters after the cause was fixed; the next ``notify`` sends them."""
        chosen = None if key is None else DeliveryKey.parse(key)
        return DeliveryLog(self.engine).redrive(now=now, target=target, key=chosen)

    def dead_letters(self) -> list[DeliveryRecord]:
        """Deliveries that failed for good, for health and operators."""
        return DeliveryLog(self.engine).records(state=DeliveryState.DEAD)

    def deliveries(self, deployment: str) -> list[DeliveryRecord]:
        """The delivery-log rows concerning ``deployment``, oldest first, in every state: its
        notices (the deployment their payload names) and the digests that list it. A row whose
        payload this version cannot read names no deployment and is left out."""
        from supportwatch.notify.payload import NoticePayload, read_payload  # noqa: PLC0415 - see the imports

        found = []
        for record in DeliveryLog(self.engine).records():
            try:
                payload = read_payload(record.payload)
            except (ValueError, TypeError, KeyError):
                continue
            if isinstance(payload, NoticePayload):
                concerned = payload.notice.deployment == deployment
            else:
                concerned = any(line.name == deployment for line in payload.digest.deployments)
            if concerned:
                found.append(record)
        return found

    def finding_history(self, deployment: str) -> list[FindingState]:
        """What notify and digest runs recorded of ``deployment``'s findings, first recorded first:
        each finding's current episode (first seen, last seen, resolved or superseded, how many
        times it came back). Empty until a run has seen the deployment."""
        from supportwatch.notify.episodes import Episodes  # noqa: PLC0415 - see the imports

        since = datetime(1970, 1, 1, tzinfo=UTC)  # every row: each was first seen after this
        states = Episodes(self.engine).finding_states(opened_since=since)
        return [state for state in states if state.deployment == deployment]
