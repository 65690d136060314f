"""Loopback servers for the notifier tests (a Slack-compatible HTTP server, a real SMTP server) and settings."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from ports import free_port
from supportwatch.config import Settings

WEBHOOK_PATH = "/services/T000/B000/XXXXSECRETWEBHOOKPATH"
WALL = datetime(2026, 7, 30, 9, 0, tzinfo=UTC)
BOT_TOKEN = "xoxb-SECRET-bot-token-123"
SMTP_PASSWORD = "sw0rdfish-SECRET"


@dataclass
class SlackRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class SlackServer:
    """Records every request; answers from ``script`` (one entry per request), then ``ok``.

    An accepted ``chat.postMessage`` is answered with its ``ts`` (``next_ts``), as Slack does.
    Script entries: "ok", "429:<seconds>", "500", "close", "status:<code>" (that HTTP status,
    its body quoting the request's path and Authorization header, as a careless server's error
    page would), "hang:<seconds>" (answer only after that long), or an ``ok: false`` error code
    such as "channel_not_found" / "invalid_auth".
    """

    url: str
    requests: list[SlackRequest] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    clock: Callable[[], float] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: int = 0

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def next_answer(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def next_ts(self) -> str:
        """A message timestamp as chat.postMessage answers it: one per accepted post, increasing."""
        with self.lock:
            self.posted += 1
            return f"1785000000.{self.posted:06d}"

    def texts(self) -> list[str]:
        return [json.dumps(request.body) for request in self.requests]


def _handler(server: SlackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = server.next_answer()
            body = json.loads(raw or b"{}") if raw.startswith(b"{") else {}
            now = server.clock() if server.clock else time.monotonic()
            with server.lock:
                server.requests.append(SlackRequest(self.path, dict(self.headers), body, now))
            if answer == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if answer.startswith("hang:"):
                time.sleep(float(answer[5:]))
                answer = "ok"
            try:
                self._answer(answer)
            except OSError:  # the client gave up waiting (a timeout test)
                self.close_connection = True

        def _answer(self, answer: str) -> None:
            api = self.path.startswith("/api/")
            if answer == "ok":
                self._reply(200, {"ok": True, "channel": "C0AGENTS", "ts": server.next_ts()} if api else "ok")
            elif answer.startswith("429:"):
                self._reply(429, {"ok": False, "error": "ratelimited"} if api else "rate_limited", answer[4:])
            elif answer == "500":
                self._reply(500, "internal error")
            elif answer.startswith("status:"):
                echo = f"{self.path} {self.headers.get('Authorization', '')}"
                code = int(answer[7:])
                self._reply(code, {"ok": False, "error": f"http_{code} {echo}"} if api else f"error {echo}")
            else:
                self._reply(200 if api else 404, {"ok": False, "error": answer} if api else answer)

        def _reply(self, status: int, body: Any, retry_after: str | None = None) -> None:
            data = (json.dumps(body) if isinstance(body, dict) else str(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # channels are sent to at once: the default backlog (5) drops some


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    httpd = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = SlackServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(server)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler: records envelopes; ``rcpt_reply``/``data_reply`` force an answer,
    ``refused`` addresses get a 550 at RCPT."""

    envelopes: list[Envelope] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    refused: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def silent_server(*, hang_up: bool) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that never speaks: it holds each connection open (a client
    times out waiting for the greeting) or, with ``hang_up``, closes it at once. Yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if hang_up:
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()
        for connection in held:
            connection.close()


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder
    logins: list[str]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    recorder = SmtpRecorder()
    logins: list[str] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, recorder, logins)
    finally:
        controller.stop()


RELEASES = [
    {"component": "agent", "version": "1.3.0", "released_on": "2026-01-28"},
    {"component": "agent", "version": "1.6.0", "released_on": "2026-04-16"},
]
IMAGE = "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.1-9-python-3.12-astro-agent-{}"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """A settings tree on a SQLite file with one deployment on agent 1.3.0 (ends 2026-07-28)."""
    raw: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'sw.db'}",
        "sources": [{"name": "pinned", "kind": "static", "releases": RELEASES}],
        "deployments": [{"name": "prod-east", "team": "data-platform", "image": IMAGE.format("1.3.0")}],
        "notify": {"retry_backoff_seconds": 1, "retry_backoff_max_seconds": 30},
    }
    raw.update(overrides)
    return Settings.model_validate(raw)


def clock() -> datetime:
    """A wall clock stopped at ``WALL``: what the notifiers date emails and read HTTP dates by."""
    return WALL


class FakeTime:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def slack_receiver(server: SlackServer, kind: str = "webhook", name: str = "data-platform") -> dict[str, Any]:
    if kind == "webhook":
        slack: dict[str, Any] = {"webhook_url": server.webhook_url}
    else:
        slack = {"token": BOT_TOKEN, "channel": "#agent-alerts", "api_url": server.api_url}
    return {"name": name, "slack": slack}


ROUTE = [{"match": {"team": "data-platform"}, "receiver": "data-platform"}]
