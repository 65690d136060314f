"""``/deployments/{name}``: one deployment's page, and the per-deployment views the dashboard shares.

The page shows everything known about the deployment: its findings with their fixes, the
target and the plan's upgrade steps, the maintenance-window timeline with its own minor
highlighted, what notify and digest runs recorded of its findings, and the deliveries that
concerned it (errors and summaries scrubbed of secrets).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from supportwatch.checks import DeploymentReport, evaluation_day
from supportwatch.notify.episodes import FindingState
from supportwatch.notify.log import DeliveryKey, DeliveryRecord
from supportwatch.report import end_text, plan_items, target_item, target_text
from supportwatch.values import Finding
from supportwatch.web.layout import page
from supportwatch.web.state import WebState, web_state
from supportwatch.web.timeline import build_timeline
from supportwatch.wording import until

router = APIRouter(tags=["dashboard"])

MAX_DELIVERIES = 100  # the newest; the rest stay in the delivery log
_STATE_ORDER = {"unmaintained": 0, "unknown": 1, "behind": 2, "current": 3}


@router.get("/deployments/{name}", response_class=HTMLResponse, include_in_schema=False)
def deployment_page(
    name: str, request: Request, state: Annotated[WebState, Depends(web_state)]
) -> HTMLResponse:
    """One deployment's page; 404 for a name not tracked."""
    service, now = state.service, state.clock()
    reports = service.reports(now)
    found = [report for report in reports if report.deployment.name == name]
    if not found:
        raise HTTPException(
            404, detail=f"no tracked deployment named {name!r}; the dashboard at / lists them"
        )
    report, tz = found[0], state.settings.tz
    today = evaluation_day(now, tz)
    agent = report.agent_version
    deliveries = sorted(service.deliveries(name), key=_delivered_at, reverse=True)
    view = {
        "d": deployment_item(report, today),
        "facts": _facts(report),
        "target": target_item(report),
        "plan": plan_items(report),
        "timeline": build_timeline(
            service.catalog(now),
            today,
            highlight=agent.minor_key if agent is not None else None,
            running=running(reports),
        ),
        "history": history_items(service.finding_history(name), tz),
        "deliveries": [_delivery(state, record, tz) for record in deliveries[:MAX_DELIVERIES]],
        "more_deliveries": max(len(deliveries) - MAX_DELIVERIES, 0),
        "evaluated_at": now.isoformat(timespec="seconds"),
    }
    return page(request, "deployment.html.j2", view)


def deployment_item(report: DeploymentReport, today: date) -> dict[str, Any]:
    """What the dashboard's row and the page's header show of one deployment."""
    end = report.end_of_maintenance
    worst = report.worst_severity
    days_left = None if report.open_ended or end is None else (end - today).days
    name = report.deployment.name
    return {
        "name": name,
        "href": f"/deployments/{quote(name, safe='')}",
        "team": report.deployment.team,
        "state": report.state.value,
        "severity": worst.value if worst else "",
        "agent": str(report.agent_version) if report.agent_version else "unknown",
        "end": end_text(report) if end or report.open_ended else "",
        "days_left": days_left,
        "when": until(days_left) if days_left is not None else "",
        "target": target_text(report),
        "findings": [finding_item(finding) for finding in report.findings],
    }


def finding_item(finding: Finding) -> dict[str, str]:
    return {
        "kind": finding.kind.value,
        "severity": finding.severity.value,
        "summary": finding.summary,
        "remedy": finding.remedy,
        "dedup_key": finding.dedup_key,
    }


def worst_first(reports: Iterable[DeploymentReport]) -> list[DeploymentReport]:
    """Critical deployments first, then warning, info, none; within each, unmaintained first;
    otherwise in the configured order."""

    def rank(report: DeploymentReport) -> tuple[int, int]:
        worst = report.worst_severity
        return (-(worst.rank if worst else 0), _STATE_ORDER.get(report.state.value, 9))

    return sorted(reports, key=rank)


def running(reports: Iterable[DeploymentReport]) -> dict[tuple[int, int], int]:
    """How many deployments run each agent minor."""
    counts: dict[tuple[int, int], int] = {}
    for report in reports:
        if report.agent_version is not None:
            key = report.agent_version.minor_key
            counts[key] = counts.get(key, 0) + 1
    return counts


def history_items(states: Sequence[FindingState], tz: tzinfo) -> list[dict[str, Any]]:
    """Each recorded finding, the most recently changed first: opened, came back, resolved."""

    def changed(state: FindingState) -> datetime:
        return max(state.first_seen_at, state.resolved_at or state.first_seen_at)

    items = []
    for state in sorted(states, key=changed, reverse=True):
        summary = state.payload.get("summary")
        ended = "superseded" if state.superseded else "resolved"
        status = "open" if state.resolved_at is None else ended
        items.append(
            {
                "kind": state.kind,
                "severity": state.severity,
                "summary": summary if isinstance(summary, str) else "",
                "status": status,
                "first_seen": _moment(state.first_seen_at, tz),
                "last_seen": _moment(state.last_seen_at, tz),
                "ended": _moment(state.resolved_at, tz),
                "came_back": state.episode,
            }
        )
    return items


def _facts(report: DeploymentReport) -> list[tuple[str, str]]:
    deployment = report.deployment
    facts = [
        ("Team", deployment.team),
        ("Agent", str(report.agent_version) if report.agent_version else "unknown"),
        ("Image", str(deployment.image)),
        ("Chart", str(deployment.chart_version) if deployment.chart_version else "not set"),
        (
            "Orchestration Runtime",
            str(deployment.orchestration_runtime) if deployment.orchestration_runtime else "not set",
        ),
        ("Platform", deployment.platform),
    ]
    if deployment.namespace or deployment.helm_release:
        facts.append(
            ("Namespace / release", f"{deployment.namespace or '-'} / {deployment.helm_release or '-'}")
        )
    if report.nominal_end_of_maintenance is not None:
        facts.append(("Nominal end (policy)", report.nominal_end_of_maintenance.isoformat()))
    return facts


def _delivered_at(record: DeliveryRecord) -> datetime:
    return record.sent_at or record.created_at


def _delivery(state: WebState, record: DeliveryRecord, tz: tzinfo) -> dict[str, Any]:
    return {
        "at": _moment(_delivered_at(record), tz),
        "target": record.target,
        "key": record.key,
        "digest": DeliveryKey.parse(record.key).is_digest,
        "summary": state.scrub(record.summary) or "",
        "state": record.state.value,
        "attempts": record.attempts,
        "error": state.scrub(record.last_error) or "",
    }


def _moment(value: datetime | None, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if value is not None else ""
