"""What a long-lived ``supportwatch run`` keeps loaded: only what it uses.

Its resident memory is mostly code, so each module it needs not stays out: the migration
framework (a child process migrates), the PostgreSQL dialect on SQLite, the optional imports
of httpx (its command-line client) and FastAPI (pydantic's v1 layer), SQLAlchemy's ORM (the
store speaks Core), the demo's mailbox and the dashboard's templates until a page is asked for. Seen from the real process with
``python -X importtime``, which names every module as it is imported.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from ports import free_port
from supportwatch.engine import create_engine_for
from supportwatch.migrations import current_revision, head_revision

SUPPORTWATCH = Path(sys.executable).parent / "supportwatch"
IMAGE = "quay.io/astronomer/astro-remote-execution-agent:3.1-9-python-3.12-astro-agent-1.6.0"
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")
# loaded by no part of `run` that ran here (the modules and everything under them); httpx's
# command-line client (which loads rich and pygments) and pydantic.v1 are asked for, and refused
NEVER = (
    "alembic",
    "mako",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.orm",
    "sqlmodel",
    "psycopg",
    "rich",
    "pygments",
    "pydantic.v1.",
    "jinja2",
    "supportwatch.demo",
    "supportwatch.web.demo_mail",
)


def write_config(folder: Path, closed_port: int) -> Path:
    """A fresh SQLite database, a static source and a Helm source on a loopback port nothing
    listens on (its poll fails at once, after loading the HTTP client)."""
    raw = {
        "database_url": f"sqlite:///{folder / 'sw.db'}",
        "timezone": "UTC",
        "http": {"allow_private_networks": True, "allow_networks": ["127.0.0.0/8"], "retries": 0},
        "sources": [
            {
                "name": "pinned",
                "kind": "static",
                "releases": [{"component": "agent", "version": "1.6.0", "released_on": "2026-04-16"}],
            },
            {
                "name": "chart-index",
                "kind": "helm",
                "url": f"http://127.0.0.1:{closed_port}/index.yaml",
                "chart": "astro-remote-execution-agent",
            },
        ],
        "deployments": [{"name": "prod", "team": "platform", "image": IMAGE, "chart_version": "2.3.3"}],
    }
    path = folder / "supportwatch.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def loaded_modules(config: Path) -> tuple[set[str], str]:
    """Every module ``run`` imported until its first poll was announced, and its output."""
    command = [sys.executable, "-X", "importtime", str(SUPPORTWATCH), "--config", str(config)]
    errors: list[str] = []
    out: list[str] = []
    with subprocess.Popen(
        [*command, "run", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        reader = threading.Thread(target=errors.extend, args=(process.stderr,))
        reader.start()
        timer = threading.Timer(60, process.kill)  # a hung start fails the test, never hangs it
        timer.start()
        try:
            for line in process.stdout:
                out.append(line)
                if line.startswith("poll chart-index:"):
                    break
            process.send_signal(signal.SIGTERM)
            out.extend(process.stdout)
            process.wait(timeout=30)
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=10)
    assert process.returncode == 0, "".join(out + errors)[-3000:]
    modules = {match[1] for line in errors if (match := IMPORTED.match(line))}
    return modules, "".join(out)


def test_run_loads_what_it_uses_and_nothing_it_does_not(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the poll is refused
        config = write_config(tmp_path, closed.getsockname()[1])
        modules, out = loaded_modules(config)
    assert "poll chart-index: failed" in out
    # what it used: the web stack, the ORM on SQLite, the HTTP client of the poll, the scheduler
    assert {
        "fastapi",
        "sqlalchemy.dialects.sqlite",
        "httpx",
        "apscheduler",
        "supportwatch.web.app",
    } <= modules
    loaded = sorted(
        name
        for name in modules
        if any(name == top or name.startswith(top.rstrip(".") + ".") for top in NEVER)
    )
    assert loaded == []
    # the fresh database was migrated all the same, by the child
    engine = create_engine_for(f"sqlite:///{tmp_path / 'sw.db'}")
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
