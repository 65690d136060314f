"""``/``: the HTML dashboard — the fleet, upcoming ends of maintenance, data health, dead letters.

Server-rendered with Jinja2 and autoescape on: deployment names, findings and stored errors
are untrusted text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from supportwatch.calendar import effective_windows
from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluation_day
from supportwatch.notify.log import DeliveryRecord
from supportwatch.report import end_text, target_text
from supportwatch.values import Finding
from supportwatch.versions import minor_label
from supportwatch.web.state import WebState, web_state

router = APIRouter(tags=["dashboard"])


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("supportwatch.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@router.get("/", response_class=HTMLResponse)
def dashboard(
    state: Annotated[WebState, Depends(web_state)], team: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    """The dashboard, optionally one team's deployments (404 for a team that owns none)."""
    service, now = state.service, state.clock()
    view = dashboard_view(
        service.reports(now, team),
        catalog=service.catalog(now),
        health=state.health_findings(now),
        dead=service.dead_letters(),
        today=evaluation_day(now, state.settings.tz),
    )
    view |= {"evaluated_at": now.isoformat(timespec="seconds"), "team": team, "teams": service.teams(now)}
    for item in view["dead_letters"]:
        item["last_error"] = state.scrub(item["last_error"])
    return HTMLResponse(_environment().get_template("dashboard.html.j2").render(view))


def dashboard_view(
    reports: Sequence[DeploymentReport],
    *,
    catalog: Catalog,
    health: Sequence[Finding],
    dead: Sequence[DeliveryRecord],
    today: date,
) -> dict[str, Any]:
    """The template's data — pure."""
    running: dict[tuple[int, int], int] = {}
    for report in reports:
        if report.agent_version is not None:
            key = report.agent_version.minor_key
            running[key] = running.get(key, 0) + 1
    # as in the calendar: the open newest minor has no end; an extended one ends when it really does
    upcoming = sorted(
        (
            window
            for window in effective_windows(catalog)
            if window.end_of_maintenance >= today and not catalog.open_ended(window.minor)
        ),
        key=lambda window: window.end_of_maintenance,
    )
    return {
        "deployments": [_row(report, today) for report in reports],
        "upcoming": [
            {
                "minor": minor_label(window.minor),
                "end": window.end_of_maintenance.isoformat(),
                "days_left": window.days_left(today),
                "estimated": window.estimated,
                "deployments": running.get(window.minor, 0),
            }
            for window in upcoming
        ],
        "health": [{"severity": f.severity.value, "summary": f.summary, "remedy": f.remedy} for f in health],
        "dead_letters": [
            {"target": d.target, "key": d.key, "attempts": d.attempts, "last_error": d.last_error or ""}
            for d in dead
        ],
    }


def _row(report: DeploymentReport, today: date) -> dict[str, Any]:
    end = report.end_of_maintenance
    worst = report.findings[0] if report.findings else None
    version = report.agent_version
    open_ended = report.open_ended
    return {
        "name": report.deployment.name,
        "team": report.deployment.team,
        "state": report.state.value,
        "agent": str(version) if version else "unknown",
        "end": end_text(report) if end or open_ended else "",
        "target": target_text(report),
        "days_left": None if open_ended or end is None else (end - today).days,
        "severity": worst.severity.value if worst else "",
        "summary": worst.summary if worst else "",
        "remedy": worst.remedy if worst else "",
        "more": max(len(report.findings) - 1, 0),
    }
