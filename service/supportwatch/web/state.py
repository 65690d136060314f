"""What every route reads: the service, the clock, the metrics and the redaction list."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from fastapi import HTTPException, Request
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url

from supportwatch.calendar import known_teams
from supportwatch.checks import DeploymentReport
from supportwatch.config import Settings
from supportwatch.notify.base import redact
from supportwatch.notify.wiring import secrets
from supportwatch.service import Service
from supportwatch.values import Finding


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
class WebState:
    """One app's wiring; ``owns_service`` says whether shutdown closes the service.

    ``database_file`` is the SQLite file as it was when the app was built (readiness checks
    that the path still leads to it).
    """

    service: Service
    clock: Callable[[], datetime]
    owns_service: bool
    secret_values: list[str] = field(default_factory=list)
    database_file: DatabaseFile | None = None
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
