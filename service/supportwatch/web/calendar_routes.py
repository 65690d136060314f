"""``/calendar.ics`` and ``/calendar/{team}.ics``: the ICS feeds.

A team's feed needs no evaluation (``Service.feed``): only the catalog, remembered per store
revision and day, and the minors its deployments run. The response cache (``cache.py``) keeps
the bytes with their ETag and answers ``If-None-Match`` with 304.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from supportwatch.web.state import NOT_FOUND, UNAVAILABLE, WebState, web_state

router = APIRouter(tags=["calendar"], responses=UNAVAILABLE)

MEDIA_TYPE = "text/calendar; charset=utf-8"
# calendar clients poll; the feed changes at most daily or when a poll records a release
CACHE_CONTROL = "private, max-age=900"


@router.get("/calendar.ics", response_class=Response)
def full_calendar(state: Annotated[WebState, Depends(web_state)]) -> Response:
    """Every agent minor's maintenance window and end of maintenance."""
    return _ics(state, team=None)


@router.get("/calendar/{team}.ics", response_class=Response, responses=NOT_FOUND)
def team_calendar(team: str, state: Annotated[WebState, Depends(web_state)]) -> Response:
    """Only the minors the team's deployments run, naming those deployments; 404 for a team
    that owns none."""
    return _ics(state, team=team)


def _ics(state: WebState, *, team: str | None) -> Response:
    now = state.clock()
    body = state.service.feed(now, team, catalog=state.catalog(now))
    return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": CACHE_CONTROL})
