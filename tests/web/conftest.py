"""Fixtures: the web app over a seeded service on the every-finding fleet (see ``fleet.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from supportwatch.config import Settings, load_settings
from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW, open_service, with_password, write_config


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(write_config(tmp_path, with_password(database_url)))


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return load_settings(write_config(tmp_path, sqlite_url))


@pytest.fixture
def service(sqlite_settings: Settings) -> Iterator[Service]:
    service = open_service(sqlite_settings)
    yield service
    service.close()


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, service=service, clock=lambda: NOW)) as client:
        yield client
