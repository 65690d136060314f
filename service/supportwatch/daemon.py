"""``supportwatch run``: the scheduler and the HTTP app in one process (DESIGN §5, §7).

Every replica serves HTTP; only the leader runs jobs. The listening socket is bound first:
a port that cannot be served stops ``run`` before the database is touched or a job runs.
SIGTERM or SIGINT stops accepting connections, shuts the scheduler down (a running job gets a
few seconds), releases the leader lock and closes the service; then ``serve`` returns
normally, so the command exits 0.

What ``run`` tells the person who started it goes through ``announce`` (one line each): where
the dashboard is, then how each source's first poll went. The polls stay scheduler jobs (a
synchronous poll before serving would hold readiness hostage to the slowest source, and the
scheduler would poll again at once): each ``poll:<source>`` job is wrapped so that its first
run, whenever this replica starts leading, is followed by ``poll <source>: ok (N releases)`` or
``poll <source>: failed: <reason>``, read back from the source's recorded state (the poll's own
outcome, already redacted; scrubbed of every configured secret once more, as the web does).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from supportwatch.config import Settings, hide_database_password, redact_url, render_database_url
from supportwatch.errors import ConfigError, StoreError
from supportwatch.leader import Leader, leader_for
from supportwatch.migrations import MigrationFailed, upgrade_in_child
from supportwatch.scheduler import Clock, JobSpec, Scheduler, describe_error, job_specs, utc_now
from supportwatch.service import Service
from supportwatch.values import clean_text
from supportwatch.wording import count

if TYPE_CHECKING:
    from supportwatch.web.metrics import JobStats

# create_app(settings, *, service=service) -> an ASGI app (supportwatch.web.app.create_app)
AppFactory = Callable[..., Any]
# one line for the person who started the service (the CLI prints it on stdout)
Announce = Callable[[str], None]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
BACKLOG = 2048  # uvicorn's default


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    app_factory: AppFactory | None = None,
    clock: Clock = utc_now,
    job_grace_seconds: float = 10.0,
    migrate: bool = False,
    announce: Announce | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly and return.

    Must run on the main thread (signal handlers). Raises ``ConfigError`` when the address
    cannot be served (checked first: nothing else happens then), ``SchedulerLocked`` when
    another scheduler holds this SQLite database, ``StoreError`` when the database cannot be
    opened (unreachable, a folder this user cannot write) or is not migrated (PostgreSQL:
    ``supportwatch db upgrade``, or ``migrate=True``: the migrations run first, under the same
    advisory lock as ``db upgrade``, so replicas starting together migrate once).
    ``announce`` receives the dashboard's URL and each source's first-poll outcome.
    """
    # three missed elections end a hung leader's lease; a live one re-checks every election
    leader = leader_for(settings.database_url, lease_seconds=3 * settings.schedule.leader_retry_seconds)
    with _stop_signals() as received:
        listener = bind(host, port)
        try:
            try:
                service = _open(settings, leader, clock, migrate=migrate)
            except BaseException:
                leader.release()
                raise
            try:
                stats = _job_stats()
                specs = job_specs(service)
                if announce is not None:
                    specs = announce_first_polls(specs, service, announce)
                jobs = [replace(spec, run=stats.timed(spec.id, spec.run)) for spec in specs]
                scheduler = Scheduler(service, leader, clock=clock, jobs=jobs)
                factory = app_factory if app_factory is not None else _web_app_factory()
                app = factory(settings, service=service, leader=lambda: scheduler.leading, jobs=stats)
                scheduler.start()
                if announce is not None:
                    announce(f"supportwatch: dashboard at {dashboard_url(settings, listener)}")
                try:
                    if not received:
                        _run_server(app, listener, host, port)
                finally:
                    scheduler.shutdown(wait_seconds=job_grace_seconds)
            finally:
                leader.release()
                service.close()
        finally:
            listener.close()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket for ``host:port``, or ``ConfigError`` saying why it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        # as uvicorn does: a restart may reuse a port whose old connections linger in TIME_WAIT
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except OSError as exc:
        listener.close()
        why = exc.strerror or str(exc) or type(exc).__name__
        hint = "free the port or pass --port" if exc.errno == errno.EADDRINUSE else "check --host/--port"
        raise ConfigError(
            "web", f"cannot serve on {where}: {why}; {hint} (or set web.host/web.port)"
        ) from None
    return listener


def dashboard_url(settings: Settings, listener: socket.socket) -> str:
    """Where the dashboard answers: the bound address (loopback for a wildcard), and
    ``web.public_url`` beside it when one is set."""
    host, port = listener.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a wildcard, shown as loopback
    url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    public = settings.web.public_url
    return url if public is None else f"{url} (public URL {public})"


def announce_first_polls(specs: list[JobSpec], service: Service, announce: Announce) -> list[JobSpec]:
    """``specs`` with each poll job announcing how its first run went (see the module docstring)."""
    secrets = _secret_values(service.settings)
    return [
        _announcing(spec, service, announce, secrets) if spec.id.startswith("poll:") else spec
        for spec in specs
    ]


def _announcing(spec: JobSpec, service: Service, announce: Announce, secrets: list[str]) -> JobSpec:
    name = spec.id.removeprefix("poll:")
    first = [True]  # jobs run one at a time on the scheduler's worker thread

    def run(now: datetime) -> datetime | None:
        if not first[0]:
            return spec.run(now)
        first[0] = False
        try:
            again = spec.run(now)
        except Exception as exc:
            announce(f"poll {name}: failed: {_scrub(describe_error(exc), secrets)}")
            raise
        announce(first_poll_line(service, name, secrets))
        return again

    return JobSpec(spec.id, spec.every, run)


def first_poll_line(service: Service, name: str, secrets: list[str]) -> str:
    """``poll <name>: ok (N releases)`` or ``poll <name>: failed: <reason>``, from the recorded state."""
    state = next((item.state for item in service.source_statuses() if item.name == name), None)
    if state is None or state.last_attempt_at is None:
        return f"poll {name}: failed: no poll was recorded"
    if state.consecutive_failures or state.disabled:
        return f"poll {name}: failed: {_scrub(state.last_error or 'no reason recorded', secrets)}"
    return f"poll {name}: ok ({count(state.release_count, 'release')})"


def _secret_values(settings: Settings) -> list[str]:
    from supportwatch.web.state import all_secrets  # noqa: PLC0415 - see _web_app_factory

    read = settings.web.read_token
    return [*all_secrets(settings), *([read.get_secret_value()] if read is not None else [])]


def _scrub(text: str, secrets: list[str]) -> str:
    from supportwatch.notify.base import redact  # noqa: PLC0415 - with the web stack

    return clean_text(redact_url(redact(text, secrets)))[:500]


def _open(settings: Settings, leader: Leader, clock: Clock, *, migrate: bool = False) -> Service:
    """Lead (or not) and open the service; the SQLite lock comes first, before any migration.

    ``migrate`` runs the migrations first on any backend (``upgrade`` takes the migration
    lock); otherwise only SQLite is migrated, and PostgreSQL must be at the head revision. They
    run in a short-lived child process: Alembic never stays resident in the serving process.
    """
    try:
        leader.acquire()
        # while a child migrates a new database, this process loads its web stack
        migrator = partial(upgrade_in_child, meanwhile=_web_app_factory)
        service = Service.open(settings, migrate=True if migrate else None, migrator=migrator)
    except _database_errors() as exc:
        raise StoreError(cannot_open(settings.database_url, exc)) from None
    except MigrationFailed as exc:
        raise StoreError(
            f"cannot migrate the database {render_database_url(settings.database_url)}: "
            f"{hide_database_password(redact_url(str(exc)), settings.database_url)}; "
            "check database_url and that this user may change the schema (`supportwatch db upgrade`)"
        ) from None
    try:
        service.apply_static(clock())
    except _database_errors() as exc:
        # e.g. a database file this user cannot write, in a folder it can
        service.close()
        raise StoreError(cannot_open(settings.database_url, exc)) from None
    except BaseException:
        service.close()
        raise
    return service


def cannot_open(database_url: str, exc: BaseException) -> str:
    """Why the database cannot be opened, naming ``database_url`` (password hidden) and, for a
    SQLite file in a folder this user cannot create or write, that folder."""
    shown = render_database_url(database_url)
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, OSError) and cause.strerror:
        reason = cause.strerror
    else:
        lines = str(cause).splitlines()
        reason = hide_database_password(redact_url(lines[0]), database_url) if lines else type(cause).__name__
    folder = _sqlite_folder(database_url)
    if folder is not None:
        if not folder.is_dir():
            return (
                f"cannot open the database {shown}: its folder {folder} does not exist and cannot be "
                f"created ({reason}); create it or point database_url at a writable folder"
            )
        if not os.access(folder, os.W_OK | os.X_OK):  # also false on a read-only file system
            return (
                f"cannot open the database {shown}: its folder {folder} is not writable by this user "
                f"({reason}); SQLite creates the lock, journal and WAL files there: make the folder "
                "writable or point database_url at a writable folder"
            )
        if isinstance(cause, OSError) and cause.filename:
            return (
                f"cannot open the database {shown}: {cause.filename}: {reason}; "
                "check that this user may read and write it"
            )
    return f"cannot open the database {shown}: {reason}; check database_url and that the server is reachable"


def _sqlite_folder(database_url: str) -> Path | None:
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(os.path.abspath(url.database)).parent


def _database_errors() -> tuple[type[BaseException], ...]:
    """What opening the database raises; psycopg's errors only once a PostgreSQL URL loaded it
    (a SQLite service never imports the driver: 9 MiB less resident)."""
    psycopg = sys.modules.get("psycopg")
    driver: tuple[type[BaseException], ...] = (psycopg.Error,) if psycopg is not None else ()
    return (SQLAlchemyError, OSError, *driver)


def _job_stats() -> JobStats:
    from supportwatch.web.metrics import JobStats  # noqa: PLC0415 - see _web_app_factory

    return JobStats()


def _web_app_factory() -> AppFactory:
    from supportwatch.web.app import create_app  # noqa: PLC0415 - only `run` needs the web stack

    return create_app


def _run_server(app: Any, listener: socket.socket, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the process's logging, set up by the CLI
        access_log=False,  # probes every few seconds would drown the job log
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except SystemExit:
        # uvicorn logs why (e.g. the app failed to start) and exits; say what to change
        raise ConfigError("web", f"cannot serve on {host}:{port} (see the error above)") from None


@contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """Record SIGTERM/SIGINT while starting and stopping.

    uvicorn handles them while it serves, then re-raises each one it caught once its own
    handlers are gone; these handlers take that re-raise, so the process exits 0, not by signal.
    """
    received: list[int] = []

    def record(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, record) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
