"""``supportwatch run``: scheduler + HTTP until SIGTERM/SIGINT, on loopback only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner

from ports import free_port
from supportwatch.cli import app
from supportwatch.config import Settings
from supportwatch.daemon import serve
from supportwatch.engine import create_engine_for
from supportwatch.leader import FileLeader, leader_for
from supportwatch.service import Service

SUPPORTWATCH = Path(sys.executable).parent / "supportwatch"
CONFIG = """\
database_url: sqlite:///{db}
timezone: Europe/Berlin
sources:
  - name: pinned
    kind: static
    releases:
      - {{component: agent, version: 1.6.0, released_on: 2026-04-16}}
deployments: []
web: {{host: 127.0.0.1, port: {port}}}
"""


def healthy(port: int, timeout: float) -> bool:
    """Polls GET /healthz until it answers 200 or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


def stand_in_app(settings: Settings, *, service: Service, **_: Any) -> FastAPI:
    """The web app's factory signature, answering /healthz only."""
    web = FastAPI()
    web.get("/healthz")(lambda: {"status": "ok", "database": settings.database_url[:6]})
    return web


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "supportwatch.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "sw.db", port=free_port()))
    return path


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_until_a_stop_signal_then_returns(sqlite_url: str, stop: signal.Signals) -> None:
    settings = Settings.model_validate({"database_url": sqlite_url})
    port = free_port()
    seen: list[bool] = []

    def probe_then_stop() -> None:
        seen.append(healthy(port, timeout=15))
        os.kill(os.getpid(), stop)  # sent even when unhealthy, so serve always returns

    prober = threading.Thread(target=probe_then_stop)
    handlers = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    prober.start()
    try:
        serve(settings, host="127.0.0.1", port=port, app_factory=stand_in_app)
    finally:
        prober.join(timeout=20)
    assert seen == [True]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers
    again = leader_for(sqlite_url)  # the lock was released
    assert again.acquire()
    again.release()


def test_run_serves_http_and_exits_0_on_sigterm(config: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(SUPPORTWATCH), "--config", str(config), "run", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        up = healthy(port, timeout=30)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert up, err
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "leading (lock file" in err  # the only scheduler on this file leads


def test_a_second_run_on_the_same_sqlite_file_exits_2(config: Path, tmp_path: Path) -> None:
    holder = leader_for(f"sqlite:///{tmp_path / 'sw.db'}")
    assert isinstance(holder, FileLeader)
    assert holder.acquire()
    try:
        result = subprocess.run(
            [str(SUPPORTWATCH), "--config", str(config), "run", "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        holder.release()
    assert result.returncode == 2
    assert str(holder.path) in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_an_unmigrated_postgres_database(postgres_url: str, tmp_path: Path) -> None:
    config = tmp_path / "pg.yaml"
    config.write_text(f"database_url: {postgres_url}\n")
    result: Any = CliRunner().invoke(app, ["--config", str(config), "run", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "run `supportwatch db upgrade`" in result.stderr


def test_run_says_why_a_migration_failed_and_exits_2(config: Path, tmp_path: Path) -> None:
    """The migrations run in a child process; its failure (here a revision this release does
    not know) stops start-up with the reason, not a traceback."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'sw.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
    finally:
        engine.dispose()
    result: Any = CliRunner().invoke(app, ["--config", str(config), "run", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "cannot migrate the database sqlite:///" in result.stderr
    assert "9999" in result.stderr
    assert "Traceback" not in result.stderr
