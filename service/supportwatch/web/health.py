"""Liveness and readiness: ``/healthz`` answers while the process runs, ``/readyz`` only while
the database is reachable and at the schema this version needs, and (SQLite) its path still
leads to the file the service opened: a deleted or replaced file would lose every write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from supportwatch.migrations import current_revision, head_revision
from supportwatch.web.state import WebState, web_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(state: Annotated[WebState, Depends(web_state)]) -> dict[str, Any] | JSONResponse:
    """Readiness: 200 when the database answers at the head revision, else 503 with the reason."""
    if state.database_file is not None and (problem := state.database_file.problem()):
        return _unready(problem)
    head = head_revision()
    try:
        current = current_revision(state.service.engine)
    except SQLAlchemyError as exc:
        # the driver's message may name the host, user or password: only its type is shown
        return _unready(f"database unreachable ({type(exc).__name__}); check database_url and the server")
    if current != head:
        return _unready(
            f"database at schema revision {current or 'none'}, this supportwatch needs {head}: "
            "run `supportwatch db upgrade`"
        )
    return {"status": "ready", "revision": head}


def _unready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
