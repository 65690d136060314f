"""The HTTP layer under odd requests and a failing database: HEAD, bounded metric labels,
503 with a short reason (one log line, no traceback), and readiness that notices a deleted or
replaced SQLite file."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from ports import free_port
from routes import flat
from supportwatch.config import Settings
from supportwatch.service import Service
from supportwatch.store import Store
from supportwatch.web import create_app
from supportwatch.web.app import method_label, status_label

from .fleet import NOW, SECRETS, open_service
from .served import serving

# every GET route of the app, written out by hand (a new route must be added here)
GET_ROUTES = {
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/deployments",
    "/api/v1/deployments/{name}",
    "/deployments/{name}",
    "/api/v1/releases",
    "/api/v1/sources",
    "/api/v1/dead-letters",
    "/calendar.ics",
    "/calendar/{team}.ics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
# the routes that read the database
DATABASE_PATHS = [
    "/",
    "/api/v1/deployments",
    "/api/v1/deployments/eol",
    "/api/v1/releases",
    "/api/v1/sources",
    "/api/v1/dead-letters",
    "/calendar.ics",
    "/calendar/platform.ics",
    "/metrics",
]


def concrete(route: str) -> str:
    return route.replace("{name}", "eol").replace("{team}", "platform")


def request_series(client: TestClient) -> set[tuple[str, str, str]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"])
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "supportwatch_http_requests_total"
    }


# --- HEAD ---------------------------------------------------------------------------------


def test_every_get_route_answers_head_like_get_without_a_body(client: TestClient) -> None:
    # the API's routes as OpenAPI lists them, and every other route (pages, documentation)
    api = {path for path, item in client.get("/openapi.json").json()["paths"].items() if "get" in item}
    others = {route.path for route in flat(client.app.routes) if "GET" in getattr(route, "methods", ())}  # type: ignore[attr-defined]
    routes = api | others
    assert routes == GET_ROUTES
    for route in sorted(routes):
        path = concrete(route)
        get, head = client.get(path), client.head(path)
        assert (route, head.status_code) == (route, get.status_code)
        assert get.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        if route != "/metrics":  # the request counter grows between the two
            assert head.headers.get("content-length") == get.headers.get("content-length")


def test_head_keeps_the_calendar_etag_and_its_304(client: TestClient) -> None:
    etag = client.get("/calendar.ics").headers["etag"]
    head = client.head("/calendar.ics")
    assert head.headers["etag"] == etag
    assert client.head("/calendar.ics", headers={"If-None-Match": etag}).status_code == 304


def test_head_over_a_real_socket(service: Service) -> None:
    app = create_app(service.settings, service=service, clock=lambda: NOW)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        for path in ("/healthz", "/readyz", "/", "/calendar.ics"):
            head = http.head(path)
            assert (path, head.status_code, head.content) == (path, 200, b"")
            assert int(head.headers["content-length"]) == len(http.get(path).content)


# --- bounded labels -----------------------------------------------------------------------


def test_label_values_fold_into_a_few() -> None:
    assert [method_label(m) for m in ("GET", "HEAD", "POST", "get", "FOO", "X" * 500)] == [
        "GET",
        "HEAD",
        "POST",
        "other",
        "other",
        "other",
    ]
    assert [status_label(s) for s in (200, 304, 404, 503, 201, 418, 599, 99, 1000)] == [
        "200",
        "304",
        "404",
        "503",
        "2xx",
        "4xx",
        "5xx",
        "other",
        "other",
    ]


def test_odd_methods_and_paths_add_no_series(client: TestClient) -> None:
    for n in range(300):
        client.request(f"M{n}X", f"/no/such/{n}")  # odd method, unmatched path: 404
        client.request(f"PROBE{n}", "/healthz")  # odd method, known route: 405
        client.get(f"/no-such-page-{n}")  # GET, unmatched: 404
        client.get(f"/calendar/team-{n}.ics")  # a route template with an unknown team: 404
        client.head(f"/api/v1/deployments/nobody-{n}")  # HEAD of an unknown deployment: 404
    assert request_series(client) == {
        ("other", "unmatched", "404"),
        ("other", "/healthz", "405"),
        ("GET", "unmatched", "404"),
        ("GET", "/calendar/{team}.ics", "404"),
        ("HEAD", "/api/v1/deployments/{name}", "404"),
    }


# --- a database that becomes unusable -------------------------------------------------------


@pytest.fixture(params=["sqlite-garbage", "postgres-down"])
def broken(request: pytest.FixtureRequest, sqlite_settings: Settings) -> Iterator[TestClient]:
    """The app over a database that worked when the app was built and then became unusable."""
    if request.param == "sqlite-garbage":
        service = open_service(sqlite_settings)
        app = create_app(sqlite_settings, service=service, clock=lambda: NOW)
        with TestClient(app) as client:
            assert client.get("/api/v1/deployments").status_code == 200
            database = Path(str(service.engine.url.database))
            service.engine.dispose()  # closing checkpoints the WAL: corrupt after it
            database.write_bytes(os.urandom(8192))
            for extra in ("-wal", "-shm"):
                Path(f"{database}{extra}").unlink(missing_ok=True)
            yield client
        service.close()
        return
    # a PostgreSQL server that is down: nothing listens on its port any more
    port = free_port()
    url = f"postgresql+psycopg://sw:{SECRETS['db_password']}@127.0.0.1:{port}/sw?connect_timeout=2"
    engine = create_engine(url)
    down = Service(sqlite_settings, engine, Store(engine))
    with TestClient(create_app(sqlite_settings, service=down, clock=lambda: NOW)) as client:
        yield client
    down.close()


def test_an_unusable_database_answers_503_with_a_short_reason_and_one_log_line(
    broken: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for path in DATABASE_PATHS:
        caplog.clear()
        response = broken.get(path, headers={"Accept": "application/json"})
        assert (path, response.status_code) == (path, 503)
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["reason"].startswith("The database is unavailable (")
        assert response.headers["retry-after"] == "30"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, (path, [r.getMessage() for r in errors])
        [line] = errors
        assert line.exc_info is None
        assert "\n" not in line.getMessage()
        assert "database unavailable" in line.getMessage()
        assert SECRETS["db_password"] not in caplog.text
        assert SECRETS["db_password"] not in response.text
    assert broken.get("/healthz").status_code == 200
    assert broken.get("/readyz").status_code == 503


def test_a_browser_gets_an_html_page(broken: TestClient) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = broken.get("/", headers={"Accept": accept})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Temporarily unavailable</h1>" in response.text
    assert "The database is unavailable" in response.text
    head = broken.head("/", headers={"Accept": accept})
    assert (head.status_code, head.content) == (503, b"")


def test_the_503s_are_counted(broken: TestClient) -> None:
    broken.get("/api/v1/releases")
    broken.head("/api/v1/releases")
    # /metrics itself answers 503 (its gauges read the store): read the counter directly
    counter = broken.app.state.web.requests  # type: ignore[attr-defined]
    counted = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in counter.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert {labels: value for labels, value in counted.items() if labels[2] != "200"} == {
        ("GET", "/api/v1/releases", "503"): 1.0,
        ("HEAD", "/api/v1/releases", "503"): 1.0,
    }


# --- the SQLite file under a running service -----------------------------------------------


def test_readyz_notices_a_deleted_sqlite_file(client: TestClient, service: Service) -> None:
    assert client.get("/readyz").status_code == 200
    database = str(service.engine.url.database)
    os.remove(database)
    response = client.get("/readyz")
    assert response.status_code == 503
    reason = response.json()["reason"]
    assert reason.startswith(f"the SQLite database file {os.path.abspath(database)} was deleted")
    assert "restart supportwatch" in reason


def test_readyz_notices_a_replaced_sqlite_file(client: TestClient, service: Service, tmp_path: Path) -> None:
    database = str(service.engine.url.database)
    copy = tmp_path / "copy.db"
    shutil.copyfile(database, copy)
    os.replace(copy, database)  # the same name, another file (a restore from backup, say)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "was replaced by another file" in response.json()["reason"]


def test_readyz_ignores_a_database_without_a_file(sqlite_settings: Settings) -> None:
    engine = create_engine("sqlite://")
    memory = Service(sqlite_settings, engine, Store(engine))
    app = create_app(sqlite_settings, service=memory)
    memory.close()
    assert app.state.web.service.database_file is None  # the service notes the file it opened
