"""What every route reads: the service, the clock, the metrics, the redaction list, and the
read views (catalog, reports, data health) remembered while what they are built from holds.

A view is rebuilt only when the store's revision (``Service.revision``, probed on each call)
or the day changes, so every replica shows a poll at once; data health also when the time it
holds until (``Service.data_health``) has passed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluation_day
from supportwatch.config import Settings
from supportwatch.notify.base import redact
from supportwatch.service import Service, UnknownTeam
from supportwatch.values import Finding, Release

T = TypeVar("T")
_REASON = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_DOWN = {"type": "object", "properties": {"status": {"type": "string"}, "reason": {"type": "string"}}}
# what the OpenAPI document says of the answers every reading route may give besides its own
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such deployment or team", "content": {"application/json": {"schema": _REASON}}}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "The database is unavailable (HTML for browsers, JSON otherwise)",
        "content": {"application/json": {"schema": _DOWN}, "text/html": {"schema": {"type": "string"}}},
    }
}
# what a remembered health view was computed from: (revision, computed at, holds until, findings)
Health = tuple[object, datetime, datetime | None, list[Finding]]


@dataclass
class WebState:
    """One app's wiring; ``owns_service`` says whether shutdown closes the service.

    Every route reads through ``service``'s methods (or this state's remembered views of
    them); ``settings`` is for display values only. ``leader`` says whether this process
    leads the scheduler's jobs (None: it runs no scheduler).
    """

    service: Service
    clock: Callable[[], datetime]
    owns_service: bool
    secret_values: list[str] = field(default_factory=list)
    leader: Callable[[], bool] | None = None
    # set by create_app once the state exists (the collector reads through it)
    registry: CollectorRegistry = field(init=False)
    requests: Counter = field(init=False)
    _views: dict[str, tuple[object, Any]] = field(default_factory=dict, init=False, repr=False)
    _health: Health | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        return self.service.settings

    @property
    def local_database(self) -> bool:
        """Whether the database is a local SQLite file: a probe then takes microseconds and
        never waits on a network, so it may run on the event loop."""
        return make_url(self.settings.database_url).get_backend_name() == "sqlite"

    def leading(self) -> bool:
        """Whether this process leads the jobs now."""
        return self.leader is not None and self.leader()

    def day(self, now: datetime) -> date:
        """The day ``now`` falls on in the configured time zone (what the views are as of)."""
        return evaluation_day(now, self.settings.tz)

    def _remembered(self, name: str, key: object, build: Callable[[], T]) -> T:
        with self._lock:
            held = self._views.get(name)
        if held is not None and held[0] == key:
            value: T = held[1]
            return value
        value = build()
        with self._lock:
            self._views[name] = (key, value)
        return value

    def catalog(self, now: datetime) -> Catalog:
        """``Service.catalog(now)``, rebuilt when the store or the day changes."""
        key = (self.service.revision(), self.day(now))
        return self._remembered("catalog", key, lambda: self.service.catalog(now))

    def releases(self) -> list[Release]:
        """``Service.releases()``, read again when the store changes."""
        return self._remembered("releases", self.service.revision(), self.service.releases)

    def reports(self, now: datetime, team: str | None = None) -> list[DeploymentReport]:
        """``Service.reports(now, team)``, evaluated again when the store or the day changes;
        raises ``UnknownTeam`` for a team that owns no tracked deployment."""
        key = (self.service.revision(), self.day(now))
        reports = self._remembered("reports", key, lambda: self.service.evaluate(now))
        if team is None:
            return list(reports)
        chosen = [report for report in reports if report.deployment.team == team]
        if not chosen:
            raise UnknownTeam(team, self.teams())
        return chosen

    def teams(self) -> list[str]:
        """The teams that own a tracked deployment, sorted (from the config: no evaluation)."""
        return sorted({deployment.team for deployment in self.service.tracked()})

    def data_health(self, now: datetime) -> tuple[list[Finding], datetime | None]:
        """Data health (stored source errors scrubbed: they quote what a server answered) and
        the last instant it holds while the store is unchanged (None: until it changes)."""
        revision = self.service.revision()
        held = self._health
        if (
            held is not None
            and held[0] == revision
            and held[1] <= now
            and (held[2] is None or now <= held[2])
        ):
            return held[3], held[2]
        findings, until = self.service.data_health(now)
        scrubbed = [
            replace(
                item,
                summary=redact(item.summary, self.secret_values),
                remedy=redact(item.remedy, self.secret_values),
            )
            for item in findings
        ]
        self._health = (revision, now, until, scrubbed)
        return scrubbed, until

    def health_findings(self, now: datetime) -> list[Finding]:
        """Data health with stored source errors scrubbed (see ``data_health``)."""
        return list(self.data_health(now)[0])

    def scrub(self, text: str | None) -> str | None:
        """``text`` with every configured secret replaced by ``***`` (stored errors are untrusted)."""
        return redact(text, self.secret_values) if text else text


def all_secrets(settings: Settings) -> list[str]:
    """Every secret the config holds: each ``SecretStr`` anywhere in it (notifier credentials,
    source tokens, the read token) and the database password.

    Found by walking the settings, so a secret key added to the config is redacted without
    naming it here; the deployments (thousands, none holding a secret) are not walked.
    """
    found = [secret.get_secret_value() for secret in _secret_strings(settings)]
    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    return [value for value in found if value]


def _secret_strings(value: object, depth: int = 0) -> Iterator[SecretStr]:
    if isinstance(value, SecretStr):
        yield value
    elif depth > 32:  # the config's nesting is bounded far below this
        return
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if not (isinstance(value, Settings) and name == "deployments"):
                yield from _secret_strings(getattr(value, name), depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_strings(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_strings(item, depth + 1)


def web_state(request: Request) -> WebState:
    """The app's ``WebState`` (a FastAPI dependency)."""
    state: WebState = request.app.state.web
    return state


def unknown_team(request: Request, exc: Exception) -> JSONResponse:
    """404 naming the known teams, for a route asked about a team that owns no deployment."""
    assert isinstance(exc, UnknownTeam)
    return JSONResponse({"detail": str(exc)}, status_code=404)
