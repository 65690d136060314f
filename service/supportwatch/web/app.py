"""``create_app``: the FastAPI application, built per call (no import-time globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response

from supportwatch.config import Settings
from supportwatch.service import Service
from supportwatch.web import api, calendar_routes, dashboard, health, metrics
from supportwatch.web.state import WebState, all_secrets


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, *, service: Service | None = None, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """The read-only HTTP app over ``service`` (opened here from ``settings`` when None).

    A service opened here is closed when the app shuts down; an injected one stays the
    caller's to close. ``clock`` supplies every ``now`` the routes use.
    """
    owns = service is None
    service = service if service is not None else Service.open(settings)
    state = WebState(service=service, clock=clock, owns_service=owns, secret_values=all_secrets(settings))
    state.registry, state.requests = metrics.build_registry(state)

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
    )
    app.state.web = state
    for module in (health, api, calendar_routes, dashboard, metrics):
        app.include_router(module.router)
    app.middleware("http")(_count_requests)
    return app


async def _count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    state: WebState = request.app.state.web
    state.requests.labels(request.method, _route_template(request), str(response.status_code)).inc()
    return response


def _route_template(request: Request) -> str:
    """The matched route's template (``/api/v1/deployments/{name}``): label values stay few."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))
