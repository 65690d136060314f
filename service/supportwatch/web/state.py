"""What every route reads: the service, the clock, the metrics and the redaction list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from supportwatch.config import Settings
from supportwatch.notify.base import redact
from supportwatch.notify.wiring import secrets
from supportwatch.service import Service, UnknownTeam
from supportwatch.values import Finding


@dataclass
class WebState:
    """One app's wiring; ``owns_service`` says whether shutdown closes the service.

    Every route reads through ``service``'s methods; ``settings`` is for display values only.
    """

    service: Service
    clock: Callable[[], datetime]
    owns_service: bool
    secret_values: list[str] = field(default_factory=list)
    # set by create_app once the state exists (the collector reads through it)
    registry: CollectorRegistry = field(init=False)
    requests: Counter = field(init=False)

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def health_findings(self, now: datetime) -> list[Finding]:
        """Data health with stored source errors scrubbed (they quote what a server answered)."""
        return [
            replace(
                item,
                summary=redact(item.summary, self.secret_values),
                remedy=redact(item.remedy, self.secret_values),
            )
            for item in self.service.health_findings(now)
        ]

    def scrub(self, text: str | None) -> str | None:
        """``text`` with every configured secret replaced by ``***`` (stored errors are untrusted)."""
        return redact(text, self.secret_values) if text else text


def all_secrets(settings: Settings) -> list[str]:
    """Every secret the config holds: notifier credentials, source tokens, the database password."""
    found = secrets(settings)
    tokens = [getattr(source, "token", None) for source in settings.sources]
    found += [token.get_secret_value() for token in tokens if isinstance(token, SecretStr)]
    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    return found


def web_state(request: Request) -> WebState:
    """The app's ``WebState`` (a FastAPI dependency)."""
    state: WebState = request.app.state.web
    return state


def unknown_team(request: Request, exc: Exception) -> JSONResponse:
    """404 naming the known teams, for a route asked about a team that owns no deployment."""
    assert isinstance(exc, UnknownTeam)
    return JSONResponse({"detail": str(exc)}, status_code=404)
