"""503 while the database is down, corrupt or gone: a short reason, one log line per failure.

Every route reads the store, so a database failure would otherwise be a bare 500 and a full
traceback per request (every scrape, every calendar poll). Instead: browsers (``Accept:
text/html``) get a small HTML page, API clients ``{"status": "unavailable", "reason": ...}``
(as ``/readyz``), with ``Retry-After``; the log gets one ERROR line naming the route and the
driver's error type and first line (secrets masked), the traceback only at DEBUG.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from functools import cache
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from supportwatch.config import redact_url
from supportwatch.errors import StoreError
from supportwatch.notify.base import redact
from supportwatch.web.state import WebState

if TYPE_CHECKING:
    from jinja2 import Environment

logger = logging.getLogger("supportwatch.web")

# what a broken, unreachable or vanished database raises through the store
_STORE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, StoreError, sqlite3.Error)


def database_errors() -> tuple[type[Exception], ...]:
    """``_STORE_ERRORS``, and the PostgreSQL driver's errors once a PostgreSQL engine has loaded
    it (a SQLite service never imports the driver: 9 MiB less resident)."""
    psycopg = sys.modules.get("psycopg")
    return (*_STORE_ERRORS, psycopg.Error) if psycopg is not None else _STORE_ERRORS


RETRY_AFTER_SECONDS = 30
REASON = (
    "The database is unavailable ({kind}); supportwatch answers again once it is back. "
    "Operators: see /readyz and the service log"
)


@cache
def _environment() -> Environment:
    # jinja2 is loaded by the first page rendered, not at start (idle memory)
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape  # noqa: PLC0415

    return Environment(
        loader=PackageLoader("supportwatch.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )


def install(app: FastAPI) -> None:
    """Answer every database failure of every route with a 503."""
    for error in database_errors():
        app.add_exception_handler(error, database_unavailable)


def database_unavailable(request: Request, exc: Exception) -> Response:
    """The 503 answer (HTML or JSON by ``Accept``) and the one log line."""
    state: WebState = request.app.state.web
    route = getattr(request.scope.get("route"), "path", "unmatched")
    method = "HEAD" if request.scope.get("supportwatch.head") else request.method
    logger.error("%s %s: 503, database unavailable: %s", method, route, describe(exc, state))
    logger.debug("%s %s: database failure", method, route, exc_info=exc)
    reason = REASON.format(kind=type(exc).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if "text/html" in request.headers.get("accept", ""):
        page = _environment().get_template("unavailable.html.j2").render(reason=reason)
        return HTMLResponse(page, status_code=503, headers=headers)
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503, headers=headers)


def describe(exc: BaseException, state: WebState) -> str:
    """One log-safe line: the error type and the driver's first line, secrets and passwords masked."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).splitlines()
    text = redact_url(redact(lines[0] if lines else "", state.secret_values))[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
