"""``/calendar.ics`` and ``/calendar/{team}.ics``: the ICS feeds, with ETag revalidation."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from supportwatch.web.state import WebState, web_state

router = APIRouter(tags=["calendar"])

MEDIA_TYPE = "text/calendar; charset=utf-8"
# calendar clients poll; the feed changes at most daily or when a poll records a release
CACHE_CONTROL = "private, max-age=900"


@router.get("/calendar.ics", response_class=Response)
def full_calendar(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Response:
    """Every agent minor's maintenance window and end of maintenance."""
    return _ics(request, state, team=None)


@router.get("/calendar/{team}.ics", response_class=Response)
def team_calendar(team: str, request: Request, state: Annotated[WebState, Depends(web_state)]) -> Response:
    """Only the minors the team's deployments run, naming those deployments; 404 for a team
    that owns none."""
    return _ics(request, state, team=team)


def _ics(request: Request, state: WebState, *, team: str | None) -> Response:
    body = state.service.calendar(state.clock(), team)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison: ``*`` or any listed tag equal to ours, ``W/`` ignored."""
    if not header:
        return False
    tags = [item.strip().removeprefix("W/") for item in header.split(",")]
    return "*" in tags or etag in tags
