"""Error answers: a small HTML page for browsers, JSON for API clients.

A request whose ``Accept`` names ``text/html`` (a browser) gets ``error.html.j2`` with the
status and a one-line reason; any other gets what FastAPI answers (``{"detail": ...}``). This
covers every ``HTTPException`` (404, 405, 503, ...), a request that does not validate (422),
a team that owns no deployment (404) and an unhandled error (500: the reason is never the
exception's text, which may quote data). Database failures have their own 503 (``unavailable``).
Register with ``install_error_pages(app)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from supportwatch.service import UnknownTeam
from supportwatch.web.layout import page


def install_error_pages(app: FastAPI) -> None:
    """Answer errors by ``Accept``: HTML for browsers, JSON otherwise."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(UnknownTeam, unknown_team)
    app.add_exception_handler(Exception, server_error)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400 or not wants_html(request):
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == 404 and detail in ("", HTTPStatus.NOT_FOUND.phrase):
        detail = f"There is no page at {request.url.path}."
    return error_page(request, exc.status_code, detail, headers=exc.headers)


async def invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    fields = sorted({".".join(str(part) for part in error.get("loc", ())[1:]) for error in exc.errors()})
    reason = f"These parameters are not valid: {', '.join(field for field in fields if field)}."
    return error_page(request, 422, reason if any(fields) else "The request is not valid.")


def unknown_team(request: Request, exc: Exception) -> Response:
    """404 naming the known teams."""
    assert isinstance(exc, UnknownTeam)
    if wants_html(request):
        return error_page(request, 404, str(exc))
    return JSONResponse({"detail": str(exc)}, status_code=404)


def server_error(request: Request, exc: Exception) -> Response:
    """500 without the exception's text (Starlette logs the traceback and re-raises)."""
    if wants_html(request):
        return error_page(request, 500, "Something went wrong on our side; the service log has the details.")
    return JSONResponse({"detail": HTTPStatus.INTERNAL_SERVER_ERROR.phrase}, status_code=500)


def error_page(
    request: Request, status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    """The HTML page for ``status`` with ``message`` (untrusted text: escaped)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    response = page(
        request, "error.html.j2", {"status": status, "title": title, "message": message}, status_code=status
    )
    response.headers.update(headers or {})
    return response
