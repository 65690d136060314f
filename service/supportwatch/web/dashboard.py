"""``/``: the HTML dashboard — the fleet worst first with every finding, the maintenance-window
timeline, calendar subscriptions, upcoming ends of maintenance, data health, dead letters.

Server-rendered with Jinja2 (``layout``), autoescape on: deployment names, findings and stored
errors are untrusted text. Its router also carries each deployment's page (``pages``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from supportwatch.calendar import effective_windows
from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluation_day
from supportwatch.notify.log import DeliveryRecord
from supportwatch.values import Finding
from supportwatch.versions import minor_label
from supportwatch.web import pages
from supportwatch.web.layout import page, subscriptions
from supportwatch.web.pages import deployment_item, running, worst_first
from supportwatch.web.state import WebState, web_state
from supportwatch.web.timeline import build_timeline

router = APIRouter(tags=["dashboard"])
router.include_router(pages.router)


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    state: Annotated[WebState, Depends(web_state)],
    team: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The dashboard, optionally one team's deployments (404 for a team that owns none)."""
    service, now = state.service, state.clock()
    teams = service.teams(now)
    view = dashboard_view(
        service.reports(now, team),
        catalog=service.catalog(now),
        health=state.health_findings(now),
        dead=service.dead_letters(),
        today=evaluation_day(now, state.settings.tz),
    )
    view |= {
        "evaluated_at": now.isoformat(timespec="seconds"),
        "team": team,
        "teams": teams,
        "subscriptions": subscriptions(request, state, [team] if team else teams),
        "demo_mail": state.settings.example_data,
    }
    for item in view["dead_letters"]:
        item["last_error"] = state.scrub(item["last_error"])
    return page(request, "dashboard.html.j2", view)


def dashboard_view(
    reports: Sequence[DeploymentReport],
    *,
    catalog: Catalog,
    health: Sequence[Finding],
    dead: Sequence[DeliveryRecord],
    today: date,
) -> dict[str, Any]:
    """The template's data — pure."""
    counts = running(reports)
    # as in the calendar: the open newest minor has no end; an extended one ends when it really does
    upcoming = sorted(
        (
            window
            for window in effective_windows(catalog)
            if window.end_of_maintenance >= today and not catalog.open_ended(window.minor)
        ),
        key=lambda window: window.end_of_maintenance,
    )
    rows = [deployment_item(report, today) for report in worst_first(reports)]
    return {
        "deployments": rows,
        "findings": sum(len(row["findings"]) for row in rows),
        "timeline": build_timeline(catalog, today, running=counts),
        "upcoming": [
            {
                "minor": minor_label(window.minor),
                "end": window.end_of_maintenance.isoformat(),
                "days_left": window.days_left(today),
                "estimated": window.estimated,
                "deployments": counts.get(window.minor, 0),
            }
            for window in upcoming
        ],
        "health": [{"severity": f.severity.value, "summary": f.summary, "remedy": f.remedy} for f in health],
        "dead_letters": [
            {"target": d.target, "key": d.key, "attempts": d.attempts, "last_error": d.last_error or ""}
            for d in dead
        ],
    }
