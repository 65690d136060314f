"""``supportwatch run``: the scheduler and the HTTP app in one process (DESIGN §5, §7).

Every replica serves HTTP; only the leader runs jobs. The listening socket is bound first:
a port that cannot be served stops ``run`` before the database is touched or a job runs.
SIGTERM or SIGINT stops accepting connections, shuts the scheduler down (a running job gets a
few seconds), releases the leader lock and closes the service; then ``serve`` returns
normally, so the command exits 0.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from supportwatch.config import Settings, hide_database_password, redact_url, render_database_url
from supportwatch.errors import ConfigError, StoreError
from supportwatch.leader import Leader, leader_for
from supportwatch.scheduler import Clock, Scheduler, utc_now
from supportwatch.service import Service

# create_app(settings, *, service=service) -> an ASGI app (supportwatch.web.app.create_app)
AppFactory = Callable[..., Any]

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
) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly and return.

    Must run on the main thread (signal handlers). Raises ``ConfigError`` when the address
    cannot be served (checked first: nothing else happens then), ``SchedulerLocked`` when
    another scheduler holds this SQLite database, ``StoreError`` when the database cannot be
    opened (unreachable, a folder this user cannot write) or is not migrated (PostgreSQL:
    ``supportwatch db upgrade``).
    """
    # three missed elections end a hung leader's lease; a live one re-checks every election
    leader = leader_for(settings.database_url, lease_seconds=3 * settings.schedule.leader_retry_seconds)
    with _stop_signals() as received:
        listener = bind(host, port)
        try:
            try:
                service = _open(settings, leader, clock)
            except BaseException:
                leader.release()
                raise
            try:
                factory = app_factory if app_factory is not None else _web_app_factory()
                app = factory(settings, service=service)
                scheduler = Scheduler(service, leader, clock=clock)
                scheduler.start()
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


def _open(settings: Settings, leader: Leader, clock: Clock) -> Service:
    """Lead (or not) and open the service; the SQLite lock comes first, before any migration."""
    try:
        leader.acquire()
        service = Service.open(settings)
    except (psycopg.Error, SQLAlchemyError, OSError) as exc:
        raise StoreError(cannot_open(settings.database_url, exc)) from None
    try:
        service.apply_static(clock())
    except (psycopg.Error, SQLAlchemyError, OSError) as exc:
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
