"""The API against its own OpenAPI document (schemathesis, in-process over ASGI: no network),
and the documentation pages, which must name no URL outside the app (they work offline)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.core.result import Err, Ok

from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW


def test_the_api_answers_as_its_openapi_document_says(service: Service) -> None:
    """Every operation, with up to 25 generated requests each: statuses, content types, headers
    and bodies as the document declares, and no server error."""
    app = create_app(service.settings, service=service, clock=lambda: NOW)
    with TestClient(app):  # the app's lifespan around the generated calls
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        results = list(schema.get_all_operations())
        assert [result.err() for result in results if isinstance(result, Err)] == []
        # the HTML pages (tag "dashboard") are for browsers, not API clients
        operations = [
            result.ok()
            for result in results
            if isinstance(result, Ok) and "dashboard" not in (result.ok().tags or [])
        ]
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def conforms(case: Case[Any]) -> None:
                case.call_and_validate()

            conforms()
    assert {operation.path for operation in operations} >= {
        "/api/v1/deployments",
        "/api/v1/deployments/{name}",
        "/api/v1/releases",
        "/api/v1/sources",
        "/api/v1/dead-letters",
        "/calendar.ics",
        "/calendar/{team}.ics",
        "/healthz",
        "/readyz",
        "/metrics",
    }


# src="...", href="...", spec-url="...", url: "..." and any absolute URL in the page
REFERENCES = re.compile(
    r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*["']([^"']+)["']|(\b[a-z][a-z0-9+.-]*://[^\s"'<>]+)"""
)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_docs_name_no_url_outside_the_app(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = [next(group for group in match.groups() if group) for match in REFERENCES.finditer(page.text)]
    outside = [url for url in found if not url.startswith("/") or url.startswith("//")]
    assert outside == []
    for url in found:  # every asset the page loads is served by the app
        assert client.get(url).status_code == 200, url
    if path != "/docs/oauth2-redirect":
        assert "/openapi.json" in found


def test_the_docs_assets_are_the_packaged_ones(client: TestClient) -> None:
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text[:2000]
    assert client.get("/docs/assets/redoc.standalone.js").status_code == 200
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
