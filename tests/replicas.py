"""Several ``supportwatch run`` replicas on one PostgreSQL, and the loopback servers they use.

Shared by ``tests/test_failover.py`` and ``bench/failover_bench.py``. Every server listens on
127.0.0.1: a chart index (each request timestamped: the first poll after a failover is the
first job of the new leader), a Slack-compatible webhook that answers slowly (so a leader can
be killed while it sends) and a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from ports import free_port

SUPPORTWATCH = Path(sys.executable).with_name("supportwatch")
WEBHOOK_PATH = "/services/T000/B000/FAILOVERWEBHOOK"
IMAGE = "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.1-9-python-3.12-astro-agent-1.3.1"
INDEX = b"""apiVersion: v1
entries:
  astro-remote-execution-agent:
    - version: 2.3.3
      appVersion: 1.8.2
      created: "2026-07-22T10:00:00Z"
generated: "2026-07-22T10:00:00Z"
"""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``condition()`` held; AssertionError naming ``what`` after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


@dataclass
class Loopback:
    """The chart index and the Slack webhook: every request recorded with its arrival time."""

    slack_delay: float = 0.0
    polls: list[float] = field(default_factory=list)
    slack_arrivals: list[float] = field(default_factory=list)  # a message starts arriving
    slack: list[dict[str, Any]] = field(default_factory=list)  # ... and is taken, after the delay
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def slack_after(self, moment: float) -> list[dict[str, Any]]:
        with self.lock:
            return [item for item in self.slack if item["at"] >= moment]

    def polls_after(self, moment: float) -> list[float]:
        with self.lock:
            return [at for at in self.polls if at >= moment]


def _handler(loopback: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with loopback.lock:
                loopback.polls.append(time.monotonic())
            self._reply(200, INDEX, "application/x-yaml")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with loopback.lock:
                loopback.slack_arrivals.append(time.monotonic())
            time.sleep(loopback.slack_delay)
            with loopback.lock:
                loopback.slack.append({"at": time.monotonic(), "body": json.loads(body or b"{}")})
            self._reply(200, b"ok", "text/plain")

        def _reply(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def loopback_http(slack_delay: float = 0.0) -> Iterator[Loopback]:
    loopback = Loopback(slack_delay=slack_delay)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(loopback))
    httpd.daemon_threads = True
    loopback.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield loopback
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@dataclass
class Mailbox:
    """An aiosmtpd handler keeping every message's headers."""

    messages: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(raw)
        self.messages.append({key: str(value) for key, value in parsed.items()})
        return "250 Message accepted for delivery"


@contextmanager
def smtp_sink() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def write_config(
    folder: Path,
    database_url: str,
    loopback: Loopback,
    mailbox: Mailbox,
    *,
    deployments: int = 6,
    teams: int = 1,
    leader_retry_seconds: float | None = 1.0,
) -> Path:
    """A config for the replicas: a static source and the loopback chart index, ``deployments``
    on an unmaintained agent (several findings each) spread over ``teams``, each team a receiver
    on Slack (its own webhook) and email. ``leader_retry_seconds`` None keeps the default."""
    names = ["platform", *(f"team-{index}" for index in range(1, teams))]
    raw: dict[str, Any] = {
        "database_url": database_url,
        "timezone": "UTC",
        "http": {"allow_private_networks": True, "allow_networks": ["127.0.0.0/8"], "retries": 0},
        "sources": [
            {
                "name": "pinned",
                "kind": "static",
                "releases": [
                    {"component": "agent", "version": "1.3.1", "released_on": "2026-01-28"},
                    {"component": "agent", "version": "1.6.0", "released_on": "2026-04-16"},
                ],
            },
            {
                "name": "chart-index",
                "kind": "helm",
                "url": f"{loopback.url}/index.yaml",
                "chart": "astro-remote-execution-agent",
            },
        ],
        "deployments": [
            {"name": f"prod-{index}", "team": names[index % teams], "image": IMAGE, "chart_version": "2.3.3"}
            for index in range(deployments)
        ],
        "receivers": [
            {
                "name": name,
                "slack": {"webhook_url": f"{loopback.url}{WEBHOOK_PATH}/{name}"},
                "email": {"to": [f"{name}@example.com"]},
            }
            for name in names
        ],
        "routes": [{"match": {"team": name}, "receiver": name} for name in names],
        "smtp": {"host": "127.0.0.1", "port": mailbox.port, "security": "none", "sender": "sw@example.com"},
        # a claim of a killed leader is taken over a second later; every send goes out at once
        "notify": {
            "lease_seconds": 1,
            "slack_rate_per_second": 100,
            "digest_weekday": "monday",
            "digest_hour": 0,
        },
    }
    if leader_retry_seconds is not None:
        raw["schedule"] = {"leader_retry_seconds": leader_retry_seconds}
    path = folder / "supportwatch.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Replica:
    """One ``supportwatch run`` process; its log is a file, read as it grows."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def leads(self) -> bool:
        text = self.text()
        return self.alive() and text.rfind("leading (") > text.rfind("lost leadership")

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)


def start_replica(config: Path, folder: Path, name: str) -> Replica:
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(SUPPORTWATCH), "--config", str(config), "run", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Replica(name, port, log, process)


def stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.alive():
            replica.signal(signal.SIGCONT)
            replica.signal(signal.SIGTERM)
    for replica in replicas:
        try:
            replica.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait(timeout=5)


def the_leader(replicas: list[Replica], timeout: float = 60.0) -> Replica:
    wait_for(lambda: sum(r.leads() for r in replicas) == 1, timeout, "exactly one replica leads")
    return next(r for r in replicas if r.leads())


def migrate(config: Path) -> None:
    done = subprocess.run(
        [str(SUPPORTWATCH), "--config", str(config), "db", "upgrade"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"db upgrade failed: {done.stderr[-2000:]}")
