"""``Service``: the composition of config, store, sources and checks.

Each scheduled job and each CLI command is one method here, so the daemon and a one-off run
share one code path. Methods take ``now`` so that ``--at`` and tests can move time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate, evaluation_day
from supportwatch.config import Settings, StaticSource
from supportwatch.errors import ConfigError, SourceError, StoreError
from supportwatch.health import date_conflict_findings, stale_findings
from supportwatch.migrations import current_revision, head_revision, upgrade
from supportwatch.sources.static import static_releases
from supportwatch.store import NotifyStore, Store, create_engine_for
from supportwatch.values import Ack, Component, DeliveryRecord, Finding, Release, SourceState

# The HTTP client, the source parsers and the notifiers are imported where they are used:
# `check` is a CI gate run on every pipeline, and it needs none of them.
if TYPE_CHECKING:
    import httpx

    from supportwatch.notify.delivery import DeliveryReport
    from supportwatch.notify.jobs import Notifications
    from supportwatch.notify.wiring import NotifyRuntime
    from supportwatch.sources.base import Source
    from supportwatch.sources.http import Fetcher

logger = logging.getLogger("supportwatch.service")


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What polling one source did: ``fetched`` (parsed and recorded), ``unchanged`` (304),
    ``failed`` (nothing stored was touched) or ``disabled`` (after a 410, until its url changes)."""

    source: str
    status: Literal["fetched", "unchanged", "failed", "disabled"]
    new: int = 0
    changed: int = 0
    seen: int = 0
    skipped: int = 0
    requests: int = 0
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "disabled")


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
    # the last evaluation and what it was computed from: (day, releases) -> reports
    _evaluated: tuple[tuple[date, tuple[Release, ...]], list[DeploymentReport]] | None = field(
        default=None, repr=False
    )

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool | None = None) -> Service:
        """Build the engine and store; SQLite databases are migrated automatically."""
        engine = create_engine_for(settings.database_url)
        if migrate if migrate is not None else engine.dialect.name == "sqlite":
            upgrade(engine)
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

    def sources(self) -> dict[str, Source]:
        """The polled (non-static, enabled) sources by name, built once."""
        from supportwatch.sources.http import Fetcher, make_client  # noqa: PLC0415
        from supportwatch.sources.wiring import build_sources  # noqa: PLC0415 - see the imports

        if self._sources is None:
            if self.fetcher is None:
                self._client = make_client(self.settings.http)
                self.fetcher = Fetcher(self._client, self.settings.http)
            self._sources = build_sources(self.settings.sources, self.fetcher)
        return self._sources

    def poll(
        self, now: datetime, only: str | None = None, *, accept_shrink: bool = False
    ) -> list[PollOutcome]:
        """Poll every source (or only the one named), record what is new, and track its health.

        ``accept_shrink`` takes an answer that lost more than half of the versions as the new
        baseline (an operator's decision after a source really dropped them; never automatic).
        Raises ``ConfigError`` when ``only`` names no polled source.
        """
        sources = self.sources()
        if only is not None and only not in sources:
            known = ", ".join(sources) or "none"
            raise ConfigError("--source", f"{only!r} is not a polled source; polled sources: {known}")
        chosen = [sources[only]] if only is not None else list(sources.values())
        outcomes = [self._poll_one(source, now, accept_shrink=accept_shrink) for source in chosen]
        self.store.reconcile_all(now)
        return outcomes

    def _state_for(self, source: Source) -> SourceState:
        stored = self.store.source_state(source.name)
        if stored is None or stored.configured_url != source.url:
            # a new source, or its url was edited: validators, 301 and 410 no longer apply
            return SourceState(name=source.name, configured_url=source.url, url=source.url)
        return stored

    def _poll_one(self, source: Source, now: datetime, *, accept_shrink: bool = False) -> PollOutcome:
        from supportwatch.sources.base import check_plausible  # noqa: PLC0415 - see the imports
        from supportwatch.sources.http import SourceGone  # noqa: PLC0415

        state = self._state_for(source)
        if state.disabled:
            return PollOutcome(source.name, "disabled", error=state.last_error)
        attempt = replace(state, last_attempt_at=now)
        try:
            result = source.poll(state, now=now)
            if result.releases is None:
                self.store.save_source_state(
                    replace(_succeeded(attempt, now, url=result.url), last_error=result.note)
                )
                return PollOutcome(
                    source.name, "unchanged", seen=state.release_count, requests=result.requests
                )
            check_plausible(source.name, result.url, result, 0 if accept_shrink else state.release_count)
            recorded = self.store.record(source.name, result.url, result.releases, seen_at=now)
        except SourceError as exc:
            return self._poll_failed(source, attempt, str(exc), gone=isinstance(exc, SourceGone))
        except Exception as exc:
            # one source never stops the others, even on an error nothing classified
            logger.error("poll %s failed: %s", source.name, type(exc).__name__)
            return self._poll_failed(
                source, attempt, f"unexpected {type(exc).__name__}; see the logs", gone=False
            )
        valid = result.validators
        self.store.save_source_state(
            replace(
                _succeeded(attempt, now, url=result.url),
                etag=valid.etag,
                last_modified=valid.last_modified,
                release_count=len(result.releases),
                last_error=result.note,
            )
        )
        return PollOutcome(
            source.name,
            "fetched",
            new=len(recorded.new),
            changed=len(recorded.changed),
            seen=len(result.releases),
            skipped=result.skipped,
            requests=result.requests,
        )

    def _poll_failed(self, source: Source, attempt: SourceState, message: str, *, gone: bool) -> PollOutcome:
        failures = attempt.consecutive_failures + 1
        message = message[:2000]
        self.store.save_source_state(
            replace(attempt, consecutive_failures=failures, last_error=message, disabled=gone)
        )
        return PollOutcome(source.name, "failed", error=message)

    def health_findings(self, now: datetime) -> list[Finding]:
        """Data health as of ``now``: stale sources, then release dates the sources disagree on."""
        polled = {item.name for item in self.settings.sources if item.enabled and item.kind != "static"}
        states = [state for state in self.store.source_states() if state.name in polled]
        health = self.settings.source_health
        return stale_findings(states, health, now=now) + date_conflict_findings(
            self.store.all_observations(),
            priority=self.settings.source_priority(),
            max_days=health.date_conflict_days,
        )

    def apply_static(self, now: datetime) -> int:
        """Record every static source's releases; returns how many versions were new."""
        new = 0
        for source in self.settings.sources:
            if isinstance(source, StaticSource) and source.enabled:
                result = self.store.record(
                    source.name, None, static_releases(source), seen_at=now, exhaustive=True
                )
                new += len(result.new)
        return new

    def releases(self, component: Component | None = None) -> list[Release]:
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

    # --- notifications ------------------------------------------------------------------

    def notifications(self) -> Notifications:
        from supportwatch.notify.jobs import Notifications  # noqa: PLC0415 - see the imports
        from supportwatch.notify.wiring import NotifyRuntime  # noqa: PLC0415

        if self.notify_runtime is None:
            self.notify_runtime = NotifyRuntime()
        return Notifications(self.settings, NotifyStore(self.engine), self.notify_runtime)

    def notify(self, now: datetime, dry_run: bool = False) -> DeliveryReport:
        """Evaluate and deliver what is due, once (DESIGN §3 step 3); ``dry_run`` only previews."""
        return self.notifications().notify(self.evaluate(now), now=now, dry_run=dry_run)

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
        return NotifyStore(self.engine).ack(dedup_key, until=until, now=now, note=note)

    def acks(self) -> list[Ack]:
        return NotifyStore(self.engine).acks()

    def redrive(self, now: datetime, *, target: str | None = None, key: str | None = None) -> int:
        """Re-queue dead letters after the cause was fixed; the next ``notify`` sends them."""
        return NotifyStore(self.engine).redrive(now=now, target=target, key=key)

    def dead_letters(self) -> list[DeliveryRecord]:
        """Deliveries that failed for good, for health and operators."""
        return NotifyStore(self.engine).records(state="dead")


def _succeeded(state: SourceState, now: datetime, *, url: str) -> SourceState:
    return replace(state, url=url, last_success_at=now, consecutive_failures=0, last_error=None)
