"""What ``run`` tells the person who started it: the dashboard's URL, each source's first poll,
and its log in the configured format (``log: {format, level}``)."""

from __future__ import annotations

import json
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ports import free_port
from supportwatch.config import Settings
from supportwatch.daemon import announce_first_polls, dashboard_url, first_poll_line
from supportwatch.demo.examples import VendorFile
from supportwatch.demo.vendor import VendorServer
from supportwatch.scheduler import JobSpec
from supportwatch.service import Service

SUPPORTWATCH = Path(sys.executable).parent / "supportwatch"
FIXTURE = Path(__file__).parent / "fixtures" / "sources" / "astro-agent.json"
QUERY_SECRET = "queryS3CR3T"
SOURCE_SECRET = "sourceTokenS3CR3T"
NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    file = VendorFile("/updates/astro-agent", "agent-versions", FIXTURE.read_bytes(), "application/json")
    with VendorServer([file]).start() as server:
        yield server


def config_text(database: Path, vendor_url: str, port: int) -> str:
    closed = free_port()  # nothing listens here: that source's poll fails
    return f"""\
database_url: sqlite:///{database}
http: {{allow_networks: [127.0.0.0/8], retries: 0, deadline_seconds: 5}}
sources:
  - {{name: agent-versions, kind: astro_updates, url: "{vendor_url}/updates/astro-agent", component: agent}}
  - name: chart-index
    kind: helm
    url: "http://127.0.0.1:{closed}/index.yaml?token={QUERY_SECRET}"
    chart: astro-remote-execution-agent
    token: {SOURCE_SECRET}
deployments: []
web: {{host: 127.0.0.1, port: {port}}}
log: {{format: json, level: debug}}
"""


def wait_for_lines(process: subprocess.Popen[str], needles: list[str], timeout: float) -> list[str]:
    """stdout lines until each needle was seen (or ``timeout``); the process keeps running."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and not all(any(n in line for line in lines) for n in needles):
            if selector.select(timeout=0.2):
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip("\n"))
    return lines


def test_run_prints_the_dashboard_and_each_first_poll_and_logs_json(
    tmp_path: Path, vendor: VendorServer
) -> None:
    port = free_port()
    config = tmp_path / "supportwatch.yaml"
    config.write_text(config_text(tmp_path / "sw.db", vendor.url, port))
    process = subprocess.Popen(
        [str(SUPPORTWATCH), "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        lines = wait_for_lines(
            process,
            ["supportwatch: dashboard at", "poll agent-versions:", "poll chart-index:"],
            timeout=30,
        )
        with httpx.Client(timeout=2.0) as client:
            assert client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    printed = [*lines, *out.splitlines()]
    assert process.returncode == 0, err
    assert f"supportwatch: dashboard at http://127.0.0.1:{port}/" in printed
    [ok] = [line for line in printed if line.startswith("poll agent-versions:")]
    assert ok.startswith("poll agent-versions: ok (") and ok.endswith(" releases)"), ok
    [failed] = [line for line in printed if line.startswith("poll chart-index:")]
    assert failed.startswith("poll chart-index: failed: "), failed
    for secret in (QUERY_SECRET, SOURCE_SECRET):
        assert secret not in "\n".join(printed)
        assert secret not in err
    # every log line is one JSON object (log.format: json), at debug and above
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(record["logger"] == "supportwatch.scheduler" for record in records)


def settings_with_source(sqlite_url: str) -> Settings:
    return Settings.model_validate(
        {
            "database_url": sqlite_url,
            "http": {"allow_networks": ["127.0.0.0/8"]},
            "sources": [
                {"name": "notes", "kind": "feed", "url": "http://127.0.0.1:9/rss.xml", "component": "agent"}
            ],
            "web": {"host": "0.0.0.0", "port": 0, "public_url": "https://sw.example.com/"},
        }
    )


def test_the_first_run_of_a_poll_job_is_announced_once(sqlite_url: str) -> None:
    service = Service.open(settings_with_source(sqlite_url))
    said: list[str] = []
    calls: list[datetime] = []

    def poll(now: datetime) -> datetime | None:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError(f"boom at http://user:pw@host/x?token={QUERY_SECRET}")
        return None

    other = JobSpec("notify", timedelta(minutes=1), lambda now: None)
    try:
        specs = announce_first_polls(
            [JobSpec("poll:notes", timedelta(minutes=1), poll), other], service, said.append
        )
        assert specs[1] is other  # only poll jobs are wrapped
        with pytest.raises(RuntimeError):
            specs[0].run(NOW)
        assert len(said) == 1
        assert said[0].startswith("poll notes: failed: RuntimeError: boom")
        assert QUERY_SECRET not in said[0] and "pw@" not in said[0]
        assert specs[0].run(NOW) is None  # later runs are the job's own, unannounced
        assert len(said) == 1
        assert first_poll_line(service, "notes", []) == "poll notes: failed: no poll was recorded"
        service.poll(NOW)  # nothing listens on port 9: a failure, recorded
        assert first_poll_line(service, "notes", []).startswith("poll notes: failed: ")
    finally:
        service.close()


def test_the_dashboard_url_shows_a_wildcard_as_loopback_and_the_public_url(sqlite_url: str) -> None:
    settings = settings_with_source(sqlite_url)
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        port = listener.getsockname()[1]
        assert dashboard_url(settings, listener) == (
            f"http://127.0.0.1:{port}/ (public URL https://sw.example.com/)"
        )
