"""``/api/v1``: the JSON documents of DESIGN §7 (check, releases), source health, dead letters.

The documents are encoded here once (``JSONResponse``, no per-field validation: they are the
CLI's own JSON) and kept by the response cache (``cache.py``) while the store and the day hold;
``evaluated_at`` is then when the kept document was evaluated. Source health and dead letters
are read on every request (one small query each).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse

from supportwatch.report import check_document, releases_document
from supportwatch.service import SourceStatus
from supportwatch.values import Component
from supportwatch.web.state import NOT_FOUND, UNAVAILABLE, WebState, web_state

router = APIRouter(prefix="/api/v1", tags=["api"], responses=UNAVAILABLE)
State = Annotated[WebState, Depends(web_state)]


@router.get("/deployments", response_model=dict[str, Any], responses=NOT_FOUND)
def deployments(state: State, team: Annotated[str | None, Query()] = None) -> JSONResponse:
    """The ``check --format json`` document (with data health), optionally one team's (404 for
    a team that owns no deployment)."""
    now = state.clock()
    reports = state.reports(now, team)
    return JSONResponse(check_document(reports, now, state.health_findings(now)))


@router.get("/deployments/{name}", response_model=dict[str, Any], responses=NOT_FOUND)
def deployment(name: str, state: State) -> JSONResponse:
    """One deployment's item of the ``check`` document; 404 for a name not tracked."""
    now = state.clock()
    found = [report for report in state.reports(now) if report.deployment.name == name]
    if not found:
        raise HTTPException(
            404, detail=f"no tracked deployment named {name!r}; list them at /api/v1/deployments"
        )
    item: dict[str, Any] = check_document(found, now)["deployments"][0]
    return JSONResponse({"evaluated_at": now.isoformat(), **item})


@router.get("/releases", response_model=dict[str, Any])
def releases(state: State, component: Annotated[Component | None, Query()] = None) -> JSONResponse:
    """The ``releases --format json`` document, optionally one component's."""
    catalog = state.catalog(state.clock())
    return JSONResponse(releases_document(state.releases(), catalog, component))


@router.get("/sources")
def sources(state: State) -> dict[str, Any]:
    """Each configured source's health; URLs without user info or query, errors redacted."""
    return {"sources": [_source_item(state, status) for status in state.service.source_statuses()]}


def _source_item(state: WebState, status: SourceStatus) -> dict[str, Any]:
    seen = status.state
    return {
        "name": status.name,
        "kind": status.kind,
        "url": status.url,
        "polled": status.polled,
        "last_attempt_at": _iso(seen.last_attempt_at),
        "last_success_at": _iso(seen.last_success_at),
        "consecutive_failures": seen.consecutive_failures,
        "last_error": state.scrub(seen.last_error),
        "disabled": seen.disabled,
        "release_count": seen.release_count,
    }


@router.get("/dead-letters")
def dead_letters(state: State) -> dict[str, Any]:
    """Deliveries that failed for good: target, key, attempts, the (redacted) error and summary."""
    return {
        "dead_letters": [
            {
                "target": item.target,
                "key": item.key,
                "attempts": item.attempts,
                "created_at": _iso(item.created_at),
                "last_error": state.scrub(item.last_error),
                "summary": state.scrub(item.summary),
            }
            for item in state.service.dead_letters()
        ]
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
