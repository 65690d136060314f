"""What every route reads: the service, the clock, the metrics and the redaction list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from fastapi import HTTPException, Request
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from supportwatch.calendar import known_teams
from supportwatch.checks import DeploymentReport
from supportwatch.config import Settings
from supportwatch.models import Finding
from supportwatch.notify.base import redact
from supportwatch.notify.wiring import secrets
from supportwatch.service import Service


@dataclass
class WebState:
    """One app's wiring; ``owns_service`` says whether shutdown closes the service."""

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


def require_team(reports: Sequence[DeploymentReport], team: str) -> None:
    """404 naming the known teams when ``team`` owns no tracked deployment."""
    teams = known_teams(reports)
    if team not in teams:
        raise HTTPException(
            404, detail=f"team {team!r} owns no tracked deployment; known teams: {', '.join(teams) or 'none'}"
        )


def team_reports(reports: Sequence[DeploymentReport], team: str | None) -> list[DeploymentReport]:
    """``reports`` of one team (all when None); 404 for an unknown team."""
    if team is None:
        return list(reports)
    require_team(reports, team)
    return [report for report in reports if report.deployment.team == team]
