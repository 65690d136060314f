"""No response of any route carries a secret: webhook URLs, tokens, passwords, URL credentials.

Runs against SQLite and PostgreSQL (whose URL here carries a password the test server ignores).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from supportwatch.config import Settings
from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW, SECRETS, open_service

PATHS = [
    "/",
    "/?team=platform",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/deployments",
    "/api/v1/deployments?team=analytics",
    "/api/v1/deployments/eol",
    "/api/v1/deployments/nope",
    "/api/v1/releases",
    "/api/v1/sources",
    "/api/v1/dead-letters",
    "/calendar.ics",
    "/calendar/platform.ics",
    "/calendar/nobody.ics",
    "/openapi.json",
    "/docs",
    "/no/such/page",
]


@pytest.fixture
def seeded(settings: Settings) -> Iterator[Service]:
    service = open_service(settings)
    yield service
    service.close()


def test_no_secret_in_any_response(seeded: Service, settings: Settings) -> None:
    assert SECRETS["source_token"] in (seeded.store.source_state("chart-index").last_error or "")  # type: ignore[union-attr]
    with TestClient(create_app(settings, service=seeded, clock=lambda: NOW)) as client:
        for path in PATHS:
            response = client.get(path)
            assert response.status_code < 500, path
            text = response.text + "".join(f"{k}: {v}" for k, v in response.headers.items())
            leaked = [name for name, value in SECRETS.items() if value in text]
            assert not leaked, f"{path} leaks {leaked}"
