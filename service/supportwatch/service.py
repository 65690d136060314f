"""``Service``: the composition of config, store, sources and checks.

Each scheduled job and each CLI command is one method here, so the daemon and a one-off run
share one code path. Methods take ``now`` so that ``--at`` and tests can move time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate, evaluation_day
from supportwatch.config import Settings, StaticSource
from supportwatch.migrations import upgrade
from supportwatch.models import Component, Release
from supportwatch.sources.static import static_releases
from supportwatch.store import Store, create_engine_for


@dataclass
class Service:
    """One process's wiring: the settings, the one engine and the store on it."""

    settings: Settings
    engine: Engine
    store: Store

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool | None = None) -> Service:
        """Build the engine and store; SQLite databases are migrated automatically."""
        engine = create_engine_for(settings.database_url)
        if migrate if migrate is not None else engine.dialect.name == "sqlite":
            upgrade(engine)
        return cls(settings, engine, Store(engine, source_priority=settings.source_priority()))

    def close(self) -> None:
        self.engine.dispose()

    def apply_static(self, now: datetime) -> int:
        """Record every static source's releases; returns how many versions were new."""
        new = 0
        for source in self.settings.sources:
            if isinstance(source, StaticSource) and source.enabled:
                result = self.store.record(source.name, None, static_releases(source), seen_at=now)
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
        """Every tracked deployment's report as of ``now``."""
        return evaluate(
            self.settings.deployment_values(),
            self.store.releases(),
            self.settings.maintenance_policy(),
            rules=self.settings.rules(),
            now=now,
            tz=self.settings.tz,
        )
