"""Liveness, readiness and the app's lifecycle."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from supportwatch.config import Settings
from supportwatch.service import Service
from supportwatch.store import Store
from supportwatch.web import create_app

from .fleet import SECRETS


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_at_head(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["leader"] == "no"  # this app runs no scheduler


def test_readyz_says_whether_this_replica_leads(service: Service) -> None:
    leading = [True]
    with TestClient(create_app(service.settings, service=service, leader=lambda: leading[0])) as client:
        assert client.get("/readyz").json()["leader"] == "yes"
        leading[0] = False
        assert client.get("/readyz").json()["leader"] == "no"


def test_readyz_behind_head_is_503_with_the_fix(client: TestClient, service: Service) -> None:
    with service.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "supportwatch db upgrade" in response.json()["reason"]


def test_readyz_unreachable_database_is_503_without_the_url(sqlite_settings: Settings) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://sw:{SECRETS['db_password']}@127.0.0.1:{port}/sw?connect_timeout=2"
    engine = create_engine(url)
    unreachable = Service(sqlite_settings, engine, Store(engine))
    with TestClient(create_app(sqlite_settings, service=unreachable)) as client:
        response = client.get("/readyz")
    unreachable.close()
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database unreachable")
    assert SECRETS["db_password"] not in response.text
    assert str(port) not in response.text


def test_an_app_that_opened_its_service_closes_it(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
    assert app.state.web.owns_service


def test_an_injected_service_stays_open(client: TestClient, service: Service) -> None:
    client.close()
    assert service.store.source_states()
