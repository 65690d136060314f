"""No secret anywhere: every row of ``secrets_table.ROWS`` through every command and endpoint.

A row is one config, holding a Slack webhook URL, a Slack bot token, an SMTP password, a source
bearer token and (on PostgreSQL) a database password, given inline, through ``${ENV}`` or
through ``*_file`` twins, and one set of failure modes of the servers it talks to (all on
127.0.0.1): Slack answering 500 / 404 / 429 with odd ``Retry-After`` / ``invalid_auth`` / a
redirect or refusing connections, SMTP refusing the login or the connection, the sources
answering 401 / 500 / garbage / a redirect to another origin or refusing connections, the
database refusing the password or the connection, or a config mistake next to the secrets.

Each row runs the commands in-process (typer's ``CliRunner``) with the root logger at DEBUG and
a handler on it keeping every record with its traceback (``caplog`` is per test; a row's
commands share one database, so the row runs once and its surfaces are tested one by one),
then GETs every route of the web app (bodies and headers), then reads every table of its
database back and collects what left for others (Slack messages, emails, requests to the
redirect target). One row also runs the commands in a real process logging at DEBUG to
stderr, one the whole ``supportwatch run`` with every route fetched over a real socket. Each
(row, surface) is one test, searched for every spelling of every secret, and pieces of them
(``secrets_table.Secret.needles``); ``test_each_row_fails_the_way_the_table_says`` checks that
each row really met its failures and that its secrets were live. About 40 s.
"""

from __future__ import annotations

import html
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner

from ports import free_port
from routes import flat
from secrets_table import (
    BOT_TOKEN,
    BREAKS,
    DB_PASSWORD,
    ENV_NAMES,
    FILE_NAMES,
    ROWS,
    SMTP_PASSWORD,
    SMTP_USER,
    SOURCE_TOKEN,
    WEBHOOK_PATH,
    WRONG_DB_PASSWORD,
    Parts,
    Row,
    Secret,
    find_leaks,
    put,
    secrets,
)
from supportwatch.cli import app
from supportwatch.config import load_settings
from supportwatch.engine import create_engine_for
from supportwatch.service import Service
from supportwatch.store import Store
from supportwatch.web import create_app

FIXTURES = Path(__file__).parent / "fixtures"
EVERY_FINDING = FIXTURES / "every-finding.yaml"
AT = "2026-08-01"
NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
ACK_KEY = "end_of_maintenance:eol:agent-1.3"
DEPLOYMENTS = {"current", "eol", "ending", "legacy"}
CALENDAR_FILE = "calendar-platform.ics"

# every command, in the order an operator would run them (state carries over within a row)
COMMANDS: list[tuple[str, list[str]]] = [
    ("db-upgrade", ["db", "upgrade"]),
    ("poll", ["poll"]),
    ("poll-one-source", ["poll", "--source", "agent-versions"]),
    ("check-json", ["check", "--at", AT, "--format", "json", "--fail-on", "never"]),
    ("check-table", ["check", "--at", AT]),
    ("releases-json", ["releases", "--format", "json"]),
    ("releases-table", ["releases", "--component", "agent"]),
    ("notify-dry-run", ["notify", "--at", AT, "--dry-run"]),
    ("notify", ["notify", "--at", AT]),
    ("digest-dry-run", ["digest", "--at", AT, "--dry-run"]),
    ("digest", ["digest", "--at", AT]),
    ("calendar", ["calendar"]),
    ("calendar-team-file", ["calendar", "--team", "platform", "--output", CALENDAR_FILE]),
    ("ack", ["ack", ACK_KEY, "--note", "muted by the leak suite"]),
    ("acks", ["acks"]),
    ("redrive", ["redrive"]),
    # now, not --at: what failed at --at is due again, and past notify.give_up_hours: dead letters
    # (and the redriven ones) for the web to show next
    ("notify-after-redrive", ["notify"]),
]
# `run` ends by itself only when it cannot start: a config error or a database it cannot open
RUN = "run"

# every GET route (test_the_paths_cover_every_get_route keeps this complete)
PATHS = [
    "/",
    "/?team=platform",
    "/?team=nobody",
    "/api/v1/deployments",
    "/api/v1/deployments?team=analytics",
    "/api/v1/deployments/eol",
    "/api/v1/deployments/nope",
    "/deployments/eol",
    "/deployments/nope",
    "/api/v1/releases",
    "/api/v1/releases?component=agent",
    "/api/v1/sources",
    "/api/v1/dead-letters",
    "/calendar.ics",
    "/calendar/platform.ics",
    "/calendar/nobody.ics",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/no/such/page",
]

# Two rows guard leaks this suite found and that are fixed: a Slack answer quoting the webhook
# path across the cut of the error text (now cut only after redaction), and a Slack Web API
# redirect carrying the bot token to another origin (redirects are now refused).


def commands(row: Row) -> list[tuple[str, list[str]]]:
    """The commands a row runs in-process: all of them, and ``run`` where it ends by itself."""
    chosen = COMMANDS if row.every_command else [item for item in COMMANDS if item[0] == "check-json"]
    if not row.reachable:
        chosen = [*chosen, (RUN, ["run", "--host", "127.0.0.1", "--port", "0"])]
    return chosen


def surfaces(row: Row) -> list[str]:
    """What a row's tests search: each command's output and logs, then the other surfaces."""
    names = [name for name, _ in commands(row)]
    if row.broken is None:
        names.append("web")
    if row.reachable:
        names += ["database-rows", "outgoing"]
    if row.subprocess:
        names.append("subprocess")
    if row.daemon:
        names.append("daemon")
    return names


CASES = [pytest.param(row, surface, id=f"{row.id}/{surface}") for row in ROWS for surface in surfaces(row)]


# --- loopback HTTP servers -------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    """A loopback server answering by ``mode``; records every request."""

    base: str = ""
    mode: str = "ok"
    requests: list[Request] = field(default_factory=list)


Answer = Callable[[BaseHTTPRequestHandler, HttpServer, Request], None]


def reply(
    handler: BaseHTTPRequestHandler, status: int, body: bytes | str, headers: dict[str, str] | None = None
) -> None:
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def http_server(answer: Answer) -> Iterator[HttpServer]:
    state = HttpServer()

    class Handler(BaseHTTPRequestHandler):
        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command,
                self.path,
                dict(self.headers.items()),
                self.rfile.read(length) if length else b"",
            )
            state.requests.append(request)
            answer(self, state, request)

        def do_GET(self) -> None:
            self.handle_any()

        def do_POST(self) -> None:
            self.handle_any()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


# Jetty 9's error page quotes the request path: here, the webhook's credential
PROXY_500 = (
    '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n'
    "<title>Error 500 Server Error</title>\n</head>\n<body><h2>HTTP ERROR 500</h2>\n"
    "<p>Problem accessing {path}. Reason:\n<pre>    Server Error</pre></p><hr>"
    '<a href="http://eclipse.org/jetty">Powered by Jetty:// 9.4.z</a><hr/>\n</body>\n</html>\n'
)

# a Spring Boot error body: the path starts at character 170, so the notifier's cut of the body
# at 200 characters falls inside the webhook's credential
SPRING_404 = (
    '{"timestamp":"2026-08-01T00:00:00.000+00:00","status":404,"error":"Not Found",'
    '"message":"No endpoint POST for this webhook; it may have been disabled or revoked","path":"{path}"}'
)


def slack_answer(other: HttpServer) -> Answer:
    """Slack's webhooks and Web API; ``redirect`` sends both to ``other``, another origin."""

    def answer(handler: BaseHTTPRequestHandler, server: HttpServer, request: Request) -> None:
        slack_reply(handler, server.mode, request, other)

    return answer


def slack_reply(handler: BaseHTTPRequestHandler, mode: str, request: Request, other: HttpServer) -> None:
    api = request.path.startswith("/api/")
    if mode == "ok":
        reply(handler, 200, json.dumps({"ok": True, "channel": "C0", "ts": "1.0"}) if api else "ok")
    elif mode == "500":
        reply(handler, 500, PROXY_500.format(path=html.escape(request.path)), {"Content-Type": "text/html"})
    elif mode == "404-json":
        reply(handler, 404, SPRING_404.replace("{path}", request.path), {"Content-Type": "application/json"})
    elif mode.startswith("429:"):
        body = json.dumps({"ok": False, "error": "ratelimited"}) if api else "rate_limited"
        reply(handler, 429, body, {"Retry-After": mode[4:]})
    elif mode == "invalid_auth":
        if api:
            reply(handler, 200, json.dumps({"ok": False, "error": "invalid_auth"}))
        else:
            reply(handler, 403, "invalid_token")
    elif mode == "redirect":
        # moved elsewhere: the Web API to the same path there, a webhook to a notice page
        reply(handler, 302, "", {"Location": other.base + (request.path if api else "/moved")})
    else:
        raise AssertionError(f"unknown Slack mode {mode!r}")


SOURCE_FILES = {
    "/index.yaml": "index.yaml",
    "/astro-agent.json": "astro-agent.json",
    "/agent-notes.rss.xml": "agent-notes.rss.xml",
}
REDIRECTS = {"/index.yaml": 302, "/astro-agent.json": 301, "/agent-notes.rss.xml": 307}


def source_answer(other: HttpServer) -> Answer:
    """The sources' origin; its answers quote the request's Authorization header where they can."""

    def answer(handler: BaseHTTPRequestHandler, server: HttpServer, request: Request) -> None:
        auth = request.headers.get("Authorization", "")
        mode = server.mode
        if mode == "ok":
            reply(handler, 200, (FIXTURES / "sources" / SOURCE_FILES[request.path]).read_bytes())
        elif mode == "401":
            body = json.dumps({"error": "invalid_token", "received": auth})
            reply(handler, 401, body, {"WWW-Authenticate": 'Bearer realm="releases", error="invalid_token"'})
        elif mode == "500":
            reply(handler, 500, f"upstream failed for {request.path} ({auth})", {"Retry-After": "0"})
        elif mode == "garbage":
            page = f"<!doctype html><title>Sign in</title><p>Signed in as: {auth}</p>\x00"
            reply(handler, 200, page.encode() + b"\xff\xfe garbage")
        elif mode == "redirect":
            reply(handler, REDIRECTS[request.path], "", {"Location": other.base + request.path})
        else:
            raise AssertionError(f"unknown source mode {mode!r}")

    return answer


def other_origin_answer(handler: BaseHTTPRequestHandler, server: HttpServer, request: Request) -> None:
    # where the sources and Slack redirect to: another origin, which must never see a credential
    reply(handler, 401, f"who are you? ({request.headers.get('Authorization', 'no credentials')})")


# --- SMTP ------------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.messages.append(bytes(envelope.original_content or b""))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(*, accept: bool) -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on 127.0.0.1: logins with the password succeed if ``accept``, else 535."""
    box = Mailbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            accept
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
        )
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound for the module, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


# --- PostgreSQL: a role that needs its password ------------------------------------------------


@dataclass
class Postgres:
    """The session's PostgreSQL server, with a role of this module's that logs in by password.

    ``enforced``: the server checks that password (pg_hba.conf could be edited); else a wrong
    password still logs in (trust) and those rows only show that nothing leaks on the way.
    """

    host: str
    port: int
    role: str
    admin: Engine
    enforced: bool
    databases: list[str] = field(default_factory=list)

    def create_database(self, name: str) -> None:
        with self.admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER "{self.role}"')
        self.databases.append(name)


def _password_refused(host: str, port: int, role: str) -> bool:
    try:
        with psycopg.connect(
            host=host, port=port, user=role, password=WRONG_DB_PASSWORD, dbname="postgres", connect_timeout=5
        ):
            return False
    except psycopg.OperationalError:
        return True


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[Postgres]:
    base = make_url(postgres_server)
    admin = create_engine_for(f"{postgres_server}/postgres")
    role = f"swleak{os.getpid()}"
    password = DB_PASSWORD.replace("'", "''")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        hba = Path(str(conn.exec_driver_sql("SHOW hba_file").scalar()))
    host, port = base.host or "127.0.0.1", int(base.port or 5432)
    server = Postgres(host, port, role, admin, enforced=False)
    original: str | None = None
    try:
        # the test server trusts every login: this role must give its password
        try:
            original = hba.read_text()
            hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
        except OSError:
            original = None  # a server of someone else's (SUPPORTWATCH_TEST_POSTGRES_URL)
        if original is not None:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 5
            while not (refused := _password_refused(host, port, role)) and time.monotonic() < deadline:
                time.sleep(0.05)
            server.enforced = refused
        yield server
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in server.databases:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
            if original is not None:
                hba.write_text(original)
                conn.exec_driver_sql("SELECT pg_reload_conf()")
        admin.dispose()


# --- capturing -------------------------------------------------------------------------------

LOG_FORMAT = logging.Formatter("%(levelname)s %(name)s [%(threadName)s]: %(message)s")


class Capture(logging.Handler):
    """Every record at any level, formatted with its traceback (as a log file would hold it).

    Records of aiosmtpd (``mail.*``) are left out: they are the test's SMTP servers' own.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("mail."):
            return
        try:
            self.lines.append(LOG_FORMAT.format(record))
        except Exception:  # a record whose arguments do not format: keep what it holds
            self.lines.append(f"{record.name}: {record.msg!r} % {record.args!r}")

    def take(self) -> str:
        taken, self.lines = self.lines, []
        return "\n".join(taken)


@contextmanager
def capturing() -> Iterator[Capture]:
    """The root logger at DEBUG with a ``Capture`` on it (as ``caplog.set_level(DEBUG)`` would)."""
    root = logging.getLogger()
    handler, level = Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class Recording:
    """ASGI wrapper keeping the traceback of anything the app raises (what uvicorn would log)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.errors: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            self.errors.append(traceback.format_exc())
            raise


@dataclass
class Captured:
    """One surface: all its text, and what the table's sanity checks look at."""

    text: str
    exit_code: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcome:
    row: Row
    table: list[Secret]
    surfaces: dict[str, Captured] = field(default_factory=dict)
    slack_requests: int = 0
    mails: int = 0
    redirected: list[Request] = field(default_factory=list)
    # the credentials really were used where they belong (the positive control)
    used: set[str] = field(default_factory=set)


# real processes: every command in one interpreter, logging at DEBUG on stderr
DRIVER = """
import json, logging, sys, traceback
logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
from supportwatch.cli import app
for args in json.loads(sys.argv[1]):
    for stream in (sys.stdout, sys.stderr):
        print("@@@ supportwatch " + " ".join(args), file=stream, flush=True)
    try:
        app(args, prog_name="supportwatch")
    except SystemExit as exc:
        print(f"@@@ exit {exc.code}", flush=True)
    except Exception:
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
"""
DAEMON = """
import logging
logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
from supportwatch.cli import main
main()
"""


# --- the rows --------------------------------------------------------------------------------


class Lab:
    """The module's servers; runs each row once, on first use, and keeps what came out."""

    def __init__(
        self,
        root: Path,
        slack: HttpServer,
        source: HttpServer,
        other: HttpServer,
        smtp: dict[str, tuple[int, Mailbox]],
        closed_port: int,
        postgres: Postgres,
    ) -> None:
        self.root = root
        self.slack = slack
        self.source = source
        self.other = other
        self.smtp = smtp
        self.closed_port = closed_port
        self.postgres = postgres
        self.outcomes: dict[str, Outcome] = {}
        self.databases = 0

    def outcome(self, row: Row) -> Outcome:
        if row.id not in self.outcomes:
            self.outcomes[row.id] = self._run(row)
        return self.outcomes[row.id]

    # the config

    def _db_password(self, row: Row) -> str:
        return WRONG_DB_PASSWORD if row.database == "postgres-wrong-password" else DB_PASSWORD

    def _db_url(self, row: Row, parts: Parts, password: str, folder: Path) -> str:
        if row.database == "sqlite":
            return f"sqlite:///{folder / 'sw.db'}"
        port = self.closed_port if row.database == "postgres-closed-port" else self.postgres.port
        self.databases += 1
        database = f"swleak_{self.databases}_{os.getpid()}"
        return f"{parts.db_scheme}://{self.postgres.role}:{password}@127.0.0.1:{parts.db_port or port}/{database}"

    def _write_config(self, row: Row, folder: Path) -> tuple[Path, dict[str, str], str]:
        """The row's config, its environment (``SW_LEAK_*``) and its webhook URL."""
        slack = f"http://127.0.0.1:{self.closed_port}" if row.slack == "refused" else self.slack.base
        source = f"http://127.0.0.1:{self.closed_port}" if row.source == "closed" else self.source.base
        smtp_port = self.closed_port if row.smtp == "closed" else self.smtp[row.smtp][0]
        webhook = slack + WEBHOOK_PATH
        raw: dict[str, Any] = yaml.safe_load(EVERY_FINDING.read_text())
        # two deployments per team: every kind of message still goes out, in a fraction of the time
        raw["deployments"] = [item for item in raw["deployments"] if item["name"] in DEPLOYMENTS]
        parts = Parts(raw, row.provide)
        raw["http"] = {
            "allow_private_networks": True,  # the loopback Slack server is plain http
            "allow_networks": ["127.0.0.0/8"],
            # a retry only where the server says Retry-After: 0 (a backoff would sleep for real)
            "retries": 1 if row.source == "500" else 0,
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": 2,
            "deadline_seconds": 5,
        }
        raw["sources"] += [
            {"name": "chart-index", "kind": "helm", "url": f"{source}/index.yaml"},
            {"name": "agent-versions", "kind": "astro_updates", "url": f"{source}/astro-agent.json"},
            {"name": "agent-notes", "kind": "feed", "url": f"{source}/agent-notes.rss.xml"},
        ]
        for item in raw["sources"][-3:]:
            put(item, "token", SOURCE_TOKEN, row.provide, "source_token")
        platform: dict[str, Any] = {}
        put(platform, "webhook_url", webhook, row.provide, "webhook_url")
        analytics: dict[str, Any] = {"channel": "#analytics", "api_url": f"{slack}/api/"}
        put(analytics, "token", BOT_TOKEN, row.provide, "token")
        # platform's digest goes by email, analytics' (Slack only) through the bot token
        raw["receivers"] = [
            {"name": "platform", "slack": platform, "email": {"to": ["platform@example.com"]}},
            {"name": "analytics", "slack": analytics},
        ]
        raw["routes"] = [
            {"match": {"team": "platform"}, "receiver": "platform"},
            {"match": {"team": "analytics"}, "receiver": "analytics"},
        ]
        raw["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "username": SMTP_USER,
            "sender": "supportwatch@example.com",
            "timeout_seconds": 5,
        }
        put(raw["smtp"], "password", SMTP_PASSWORD, row.provide, "smtp_password")
        raw["notify"] = {
            "retry_backoff_seconds": 0.01,
            "retry_backoff_max_seconds": 0.05,
            "attempts_per_run": 2,
            "slack_rate_per_second": 100,
            "timeout_seconds": 5,
        }
        if row.broken is not None:
            BREAKS[row.broken](parts)
        password = quote(self._db_password(row), safe="")
        url = self._db_url(row, parts, password, folder)
        if row.provide == "inline":
            raw["database_url"] = url
        elif row.provide == "env":
            raw["database_url"] = url.replace(password, "${" + ENV_NAMES["db_password"] + "}")
        else:
            raw.pop("database_url", None)
            raw["database_url_file"] = FILE_NAMES["database_url"]
        files = {
            "webhook_url": webhook,
            "token": BOT_TOKEN,
            "smtp_password": SMTP_PASSWORD,
            "source_token": SOURCE_TOKEN,
            "database_url": url,
        }
        (folder / "secrets").mkdir(parents=True)
        for key, name in FILE_NAMES.items():
            (folder / name).write_text(files[key] + "\n")
        config = folder / "supportwatch.yaml"
        config.write_text(parts.text(yaml.safe_dump(raw, sort_keys=False)))
        env = {
            ENV_NAMES["webhook_url"]: webhook,
            ENV_NAMES["token"]: BOT_TOKEN,
            ENV_NAMES["smtp_password"]: SMTP_PASSWORD,
            ENV_NAMES["source_token"]: SOURCE_TOKEN,
            ENV_NAMES["db_password"]: password,
        }
        if row.database == "postgres" or (row.database == "postgres-wrong-password" and not row.broken):
            self.postgres.create_database(str(make_url(url).database))
        return config, env, webhook

    # running it

    def _run(self, row: Row) -> Outcome:
        folder = self.root / row.id
        self.slack.mode, self.source.mode = row.slack, row.source
        for server in (self.slack, self.source, self.other):
            server.requests.clear()
        for _, box in self.smtp.values():
            box.messages.clear()
        config, env, webhook = self._write_config(row, folder)
        outcome = Outcome(row, secrets(webhook))
        database_url = ""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            patch.delenv("SUPPORTWATCH_CONFIG", raising=False)
            patch.chdir(folder)
            with capturing() as logs:
                for name, args in commands(row):
                    outcome.surfaces[name] = self._invoke(config, args, logs)
                if row.broken is None:
                    outcome.surfaces["web"] = self._web(row, config, logs)
            if row.reachable:
                database_url = load_settings(config).database_url
        calendar = folder / CALENDAR_FILE
        if calendar.exists():
            outcome.surfaces["calendar-team-file"].text += "\n" + calendar.read_text()
        if database_url:
            outcome.surfaces["database-rows"] = Captured(dump_database(database_url))
        environment = {**os.environ, **env}
        environment.pop("SUPPORTWATCH_CONFIG", None)
        if row.subprocess:
            outcome.surfaces["subprocess"] = self._subprocess(config, folder, environment)
        if row.daemon:
            outcome.surfaces["daemon"] = self._daemon(config, folder, environment)
        if row.reachable:
            outcome.surfaces["outgoing"] = self._outgoing(outcome)
        return outcome

    def _invoke(self, config: Path, args: list[str], logs: Capture) -> Captured:
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        parts = [f"$ supportwatch {' '.join(args)}", result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            parts.append("".join(traceback.format_exception(result.exception)))
        parts.append(logs.take())
        return Captured("\n".join(parts), result.exit_code)

    def _web(self, row: Row, config: Path, logs: Capture) -> Captured:
        settings = load_settings(config)
        service: Service | None = None
        if not row.reachable:
            # the app as `run` would hold it while the database went away: every route answers
            engine = create_engine_for(settings.database_url)
            service = Service(settings, engine, Store(engine, source_priority=settings.source_priority()))
        recording = Recording(create_app(settings, service=service, clock=lambda: NOW))
        parts: list[str] = []
        statuses: dict[str, int] = {}
        try:
            with TestClient(recording, raise_server_exceptions=False) as client:
                for path in PATHS:
                    # browsers get an HTML page where the database is down
                    html_too = not row.reachable and path in ("/", "/api/v1/deployments")
                    for accept in ["application/json"] + (["text/html"] if html_too else []):
                        response = client.get(path, headers={"Accept": accept})
                        statuses.setdefault(path, response.status_code)
                        head = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
                        parts.append(f"GET {path} ({accept}) {response.status_code}\n{head}\n{response.text}")
        finally:
            if service is not None:
                service.close()
        parts += recording.errors
        parts.append(logs.take())
        return Captured("\n".join(parts), statuses=statuses)

    def _subprocess(self, config: Path, folder: Path, env: dict[str, str]) -> Captured:
        commands = [["--config", str(config), *args] for _, args in COMMANDS]
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, json.dumps(commands)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Captured(f"{done.stdout}\n{done.stderr}", done.returncode)

    def _daemon(self, config: Path, folder: Path, env: dict[str, str]) -> Captured:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-c", DAEMON, "--config", str(config), "run", "--port", str(port)]
        parts: list[str] = []
        statuses: dict[str, int] = {}
        with (
            (folder / "daemon.out").open("w") as out,
            (folder / "daemon.err").open("w") as err,
            httpx.Client(base_url=base, timeout=10, trust_env=False) as client,
        ):
            process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=err)
            try:
                if _wait_until_polled(client, process):
                    # notify, then the digest, run right after the polls (one worker thread)
                    _wait_for_line(folder / "daemon.err", "supportwatch.scheduler: digest", process)
                    for path in PATHS:
                        response = client.get(path, headers={"Accept": "text/html"})
                        statuses[path] = response.status_code
                        head = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
                        parts.append(f"GET {path} {response.status_code}\n{head}\n{response.text}")
            finally:
                process.send_signal(signal.SIGTERM)
                code = process.wait(timeout=30)
        parts += [(folder / "daemon.out").read_text(), (folder / "daemon.err").read_text()]
        return Captured("\n".join(parts), code, statuses)

    def _outgoing(self, outcome: Outcome) -> Captured:
        """What left for others: Slack message bodies, emails, and every request the sources'
        redirect target received (a token must stay with its origin)."""
        outcome.slack_requests = len(self.slack.requests)
        outcome.mails = sum(len(box.messages) for _, box in self.smtp.values())
        outcome.redirected = list(self.other.requests)
        if any(r.headers.get("Authorization") == f"Bearer {SOURCE_TOKEN}" for r in self.source.requests):
            outcome.used.add("source token")
        if any(r.headers.get("Authorization") == f"Bearer {BOT_TOKEN}" for r in self.slack.requests):
            outcome.used.add("bot token")
        if any(r.path == WEBHOOK_PATH for r in self.slack.requests):
            outcome.used.add("webhook")
        parts = [request.body.decode("utf-8", "replace") for request in self.slack.requests]
        parts += [
            message.decode("utf-8", "replace") for _, box in self.smtp.values() for message in box.messages
        ]
        parts += [
            f"{request.method} {request.path}\n" + "\n".join(f"{k}: {v}" for k, v in request.headers.items())
            for request in self.other.requests
        ]
        return Captured("\n".join(parts))


def _wait_until_polled(client: httpx.Client, process: subprocess.Popen[bytes]) -> bool:
    """Whether ``run`` came up and polled every source within 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            sources = client.get("/api/v1/sources").json()["sources"]
            if all(item["last_attempt_at"] for item in sources if item["polled"]):
                return True
        except (httpx.TransportError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    return False


def _wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    """Until ``text`` is logged (10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None and text not in log.read_text():
        time.sleep(0.05)


def dump_database(url: str) -> str:
    """Every row of every table, as text."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            lines = []
            for table in inspect(conn).get_table_names():
                for item in conn.execute(text(f'SELECT * FROM "{table}"')):
                    lines.append(f"{table}: {tuple(item)!r}")
        return "\n".join(lines)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, closed_port: int, postgres: Postgres) -> Iterator[Lab]:
    with (
        http_server(other_origin_answer) as other,
        http_server(slack_answer(other)) as slack,
        http_server(source_answer(other)) as source,
        smtp_server(accept=True) as accepting,
        smtp_server(accept=False) as refusing,
    ):
        root = tmp_path_factory.mktemp("no-secret")
        yield Lab(
            root, slack, source, other, {"ok": accepting, "refuse-auth": refusing}, closed_port, postgres
        )


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "surface"), CASES)
def test_no_secret_anywhere(lab: Lab, row: Row, surface: str) -> None:
    outcome = lab.outcome(row)
    captured = outcome.surfaces[surface]
    leaks = find_leaks(captured.text, outcome.table)
    assert not leaks, f"{row.id} {surface} leaks:\n" + "\n".join(
        f"- {leak.secret} (as {leak.needle!r}): ...{leak.excerpt}..." for leak in leaks
    )


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_row_fails_the_way_the_table_says(lab: Lab, row: Row) -> None:
    """The table is what it claims: a search of output that never met a failure proves little."""
    outcome = lab.outcome(row)
    codes = {name: captured.exit_code for name, captured in outcome.surfaces.items() if name != "web"}
    ran = [name for name, _ in commands(row)]
    if row.broken is not None:
        assert {codes[name] for name in ran} == {2}, codes
        for name in ran:
            assert "supportwatch: error: config" in outcome.surfaces[name].text, name
        return
    if row.database == "postgres-wrong-password" and not lab.postgres.enforced:
        return  # a server of someone else's, which lets any password in: no failure to check
    if not row.reachable:
        assert {codes[name] for name in ran} == {2}, codes
        assert "cannot open the database" in outcome.surfaces["check-json"].text
        if row.database == "postgres-wrong-password" and lab.postgres.enforced:
            assert "password authentication failed" in outcome.surfaces["check-json"].text
        statuses = outcome.surfaces["web"].statuses
        assert statuses["/healthz"] == 200
        assert statuses["/readyz"] == statuses["/api/v1/deployments"] == statuses["/"] == 503
        return
    assert codes["db-upgrade"] == codes["check-json"] == codes["calendar"] == 0, codes
    assert codes["poll"] == (0 if row.source == "ok" else 1), outcome.surfaces["poll"].text
    delivered = row.slack == "ok" and row.smtp == "ok"
    assert codes["notify"] == (0 if delivered else 1), outcome.surfaces["notify"].text
    assert codes["digest"] == (0 if delivered else 1), outcome.surfaces["digest"].text
    statuses = outcome.surfaces["web"].statuses
    assert {statuses[path] for path in ("/", "/readyz", "/api/v1/sources", "/metrics", "/calendar.ics")} == {
        200
    }
    dead_letters = '{"dead_letters":[]}' not in outcome.surfaces["web"].text
    assert dead_letters == (not delivered), "the web must have shown the dead letters"
    assert (outcome.slack_requests > 0) == (row.slack != "refused")
    assert (outcome.mails > 0) == (row.smtp == "ok")  # the SMTP password logged in
    assert ("source token" in outcome.used) == (row.source != "closed")
    assert {"bot token", "webhook"} <= outcome.used or row.slack == "refused"
    assert any("\nDEBUG " in captured.text for captured in outcome.surfaces.values())
    if row.source == "redirect":
        assert outcome.redirected, "the sources' redirects were never followed"
    if row.daemon:
        daemon = outcome.surfaces["daemon"]
        assert daemon.exit_code == 0, daemon.text[-3000:]
        assert daemon.statuses.get("/readyz") == 200, daemon.text[-3000:]


def test_the_paths_cover_every_get_route(lab: Lab) -> None:
    row = next(row for row in ROWS if row.reachable and row.database == "sqlite")
    lab.outcome(row)
    settings = load_settings(lab.root / row.id / "supportwatch.yaml")
    web = create_app(settings)
    paths = [path.split("?", 1)[0] for path in PATHS]
    uncovered = []
    for route in flat(web.routes):
        methods = getattr(route, "methods", None) or set()
        regex = getattr(route, "path_regex", None)
        if "GET" in methods and regex is not None and not any(regex.match(path) for path in paths):
            uncovered.append(getattr(route, "path", route))
    with TestClient(web):
        pass  # runs the lifespan, which closes the service the app opened
    assert not uncovered, f"add these routes to PATHS: {uncovered}"


def test_the_needles_find_each_secret_and_nothing_else() -> None:
    table = secrets("http://127.0.0.1:1" + WEBHOOK_PATH)
    for secret in table:
        assert [leak.secret for leak in find_leaks(f"say {secret.value} twice", table)] == [secret.name]
        assert [leak.secret for leak in find_leaks(quote(secret.value, safe=""), table)] == [secret.name]
        assert not find_leaks(secret.value.replace(secret.core, "***"), table), secret.name
    half = WEBHOOK_PATH[: -len("WEBHOOK")]
    assert [leak.secret for leak in find_leaks(half, table)] == ["slack webhook url"]
