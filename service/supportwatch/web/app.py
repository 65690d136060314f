"""``create_app``: the FastAPI application, built per call (no import-time globals).

At its edge (``EdgeMiddleware``): HEAD is answered like GET without a body on every route,
and every request is counted with bounded labels — a method outside the standard set is
``other``, a path no route matches is ``unmatched`` (else the route template), a status is
one of the codes the app answers or its class (``4xx``) — so odd requests cannot add series.
A database failure in any route is a 503 with a short reason (``unavailable.py``). Inside the
access check, the read routes answer from a cache keyed on what they depend on (``cache.py``);
``/docs`` and ``/redoc`` are served from packaged assets (``docs.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supportwatch.config import Settings
from supportwatch.service import Service, UnknownTeam
from supportwatch.web import api, calendar_routes, dashboard, docs, health, metrics, unavailable
from supportwatch.web.auth import AccessMiddleware
from supportwatch.web.cache import CacheMiddleware
from supportwatch.web.errors import install_error_pages
from supportwatch.web.state import WebState, all_secrets, unknown_team

# label values: every other method, path and status folds into a few values
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUSES = frozenset({200, 304, 400, 401, 403, 404, 405, 406, 422, 500, 503})
# set in the scope the routes see when the request was a HEAD (their method says GET)
HEAD_KEY = "supportwatch.head"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    service: Service | None = None,
    clock: Callable[[], datetime] = utc_now,
    leader: Callable[[], bool] | None = None,
    jobs: metrics.JobStats | None = None,
) -> FastAPI:
    """The read-only HTTP app over ``service`` (opened here from ``settings`` when None).

    A service opened here is closed when the app shuts down; an injected one stays the
    caller's to close. ``clock`` supplies every ``now`` the routes use. ``leader`` says whether
    this process leads the scheduler's jobs (``/readyz``, ``supportwatch_leader``; None: it runs
    no scheduler) and ``jobs`` is where the scheduler records its job runs, for ``/metrics``.
    """
    owns = service is None
    service = service if service is not None else Service.open(settings)
    state = WebState(
        service=service, clock=clock, owns_service=owns, secret_values=all_secrets(settings), leader=leader
    )
    state.registry, state.requests = metrics.build_registry(state, jobs)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if state.owns_service:
                state.service.close()

    app = FastAPI(
        title="supportwatch",
        summary="Astro Remote Execution Agent maintenance: read-only API, calendar feeds and dashboard.",
        lifespan=lifespan,
        docs_url=None,  # docs.py serves them from packaged assets
        redoc_url=None,
        # metrics are Prometheus's (/metrics); FastAPI's OpenTelemetry hooks, on by default, ask
        # the environment for a provider on every request (a fifth of a cached answer's cost)
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.web = state
    for module in (health, api, calendar_routes, dashboard, metrics):
        app.include_router(module.router)
    docs.install(app)
    unavailable.install(app)
    app.add_exception_handler(UnknownTeam, unknown_team)
    app.add_middleware(CacheMiddleware, state=state)  # kept answers, behind the access check
    app.add_middleware(AccessMiddleware, state=state)  # read and feed tokens, inside the edge
    app.add_middleware(EdgeMiddleware, state=state)
    if settings.example_data:
        # only the demo serves its mailbox (the module loads the email parser)
        from supportwatch.web import demo_mail  # noqa: PLC0415

        app.include_router(demo_mail.router)
    install_error_pages(app)
    return app


class EdgeMiddleware:
    """HEAD as GET without the body, and the request counter with bounded labels.

    Pure ASGI (not ``BaseHTTPMiddleware``), so a request that ends in an unhandled exception is
    counted too (as 500) before the error propagates to Starlette's 500 answer.
    """

    def __init__(self, app: ASGIApp, *, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope["method"])
        head = method == "HEAD"
        # the routes see a GET; the server still knows the request was HEAD (its own scope)
        inner: MutableMapping[str, Any] = {**scope, "method": "GET", HEAD_KEY: True} if head else scope
        status = 500

        async def forward(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}  # headers (Content-Length, ETag) as for GET
            await send(message)

        try:
            await self.app(inner, receive, forward)
        finally:
            self.state.requests.labels(method_label(method), route_label(inner), status_label(status)).inc()


def method_label(method: str) -> str:
    """The method when it is a standard one, else ``other``."""
    return method if method in METHODS else "other"


def route_label(scope: MutableMapping[str, Any]) -> str:
    """The matched route's template (``/api/v1/deployments/{name}``), else ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


def status_label(status: int) -> str:
    """A status the app answers by itself, else its class (``2xx`` ... ``5xx``), else ``other``."""
    if status in STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"
