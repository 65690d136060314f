"""Liveness and readiness: ``/healthz`` answers while the process runs, ``/readyz`` only while
the database is reachable and at the schema this version needs, and (SQLite) its path still
leads to the file the service opened: a deleted or replaced file would lose every write.
``/readyz`` also says whether this replica leads the scheduled jobs (``"leader": "yes"``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from supportwatch.web.state import UNAVAILABLE, WebState, web_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=UNAVAILABLE)
def readyz(state: Annotated[WebState, Depends(web_state)]) -> dict[str, Any] | JSONResponse:
    """Readiness: 200 when the database answers at the head revision, else 503 with the reason."""
    readiness = state.service.readiness()
    if readiness.problem is not None:
        return _unready(readiness.problem)
    return {"status": "ready", "revision": readiness.revision, "leader": "yes" if state.leading() else "no"}


def _unready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
