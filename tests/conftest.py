"""Shared fixtures: real databases (a SQLite file, a throwaway PostgreSQL on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, text

from pgserver import postgres_cluster
from supportwatch.engine import create_engine_for
from supportwatch.migrations import upgrade

FIXTURES = Path(__file__).parent / "fixtures"

# property tests check correctness, not speed: a loaded CI machine must not fail them on time
settings.register_profile("supportwatch", deadline=None, print_blob=True)
settings.load_profile("supportwatch")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1; yields a base URL without database."""
    if url := os.environ.get("SUPPORTWATCH_TEST_POSTGRES_URL"):
        yield url
        return
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = f"t{time.time_ns()}"
    admin = create_engine_for(f"{postgres_server}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """Each test leaves the root logger as it found it: a command run in-process installs a
    handler on the runner's stream, which is closed once the test ends."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A real SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'supportwatch.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once against a SQLite file and once against PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on each backend."""
    engine = create_engine_for(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO; if a reader ever blocks on it, a writer opens and closes it after 5 s (no hang)."""
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    done = threading.Event()

    def unblock() -> None:
        if not done.wait(5):
            with contextlib.suppress(OSError):  # ENXIO: no reader is blocked, nothing to free
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()
