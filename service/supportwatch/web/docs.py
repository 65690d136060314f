"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from packaged assets, so both work offline.

FastAPI's own pages load their scripts, styles and favicon from CDNs and so stay blank where
the service cannot reach the internet. Here the same pages (FastAPI's ``get_swagger_ui_html``
and ``get_redoc_html``) point at ``/docs/assets``, which serves the files the
``fastapi-offline`` package ships (Swagger UI's bundle and stylesheet, ReDoc's standalone
bundle, a favicon); Swagger UI's online validator and ReDoc's web fonts are turned off, so the
pages name no URL outside the app.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
ASSETS_PACKAGE = "fastapi_offline"


@cache
def assets_folder() -> Path:
    """The folder of Swagger UI and ReDoc files the ``fastapi-offline`` package installs."""
    spec = find_spec(ASSETS_PACKAGE)  # located, not imported: only its files are served
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {ASSETS_PACKAGE} package is missing: install supportwatch's dependencies")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets (the app is built with ``docs_url=None``), as
    FastAPI adds its own: plain routes, left out of the OpenAPI document."""
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT, swagger_ui_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
    app.mount(ASSETS, StaticFiles(directory=assets_folder()), name="docs-assets")


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the app's OpenAPI document."""
    root, app = _root(request), request.app
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        # the default asks validator.swagger.io about the document
        swagger_ui_parameters={"validatorUrl": None},
    )


async def swagger_ui_redirect(_: Request) -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (inline script only)."""
    return get_swagger_ui_oauth2_redirect_html()


async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the app's OpenAPI document."""
    root, app = _root(request), request.app
    return get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )
