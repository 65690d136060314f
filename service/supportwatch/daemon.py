"""``supportwatch run``: the scheduler and the HTTP app in one process (DESIGN §5, §7).

Every replica serves HTTP; only the leader runs jobs. SIGTERM or SIGINT stops accepting
connections, shuts the scheduler down (a running job gets a few seconds), releases the leader
lock and closes the service; then ``serve`` returns normally, so the command exits 0.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import psycopg
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from supportwatch.config import Settings, redact_url
from supportwatch.errors import ConfigError, StoreError
from supportwatch.leader import Leader, leader_for
from supportwatch.scheduler import Clock, Scheduler, utc_now
from supportwatch.service import Service

# create_app(settings, *, service=service) -> an ASGI app (supportwatch.web.app.create_app)
AppFactory = Callable[..., Any]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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

    Must run on the main thread (signal handlers). Raises ``SchedulerLocked`` when another
    scheduler holds this SQLite database, ``StoreError`` when the database is unreachable or
    not migrated (PostgreSQL: ``supportwatch db upgrade``), ``ConfigError`` when the address
    cannot be served.
    """
    leader = leader_for(settings.database_url)
    with _stop_signals() as received:
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
                    _run_server(app, host, port)
            finally:
                scheduler.shutdown(wait_seconds=job_grace_seconds)
        finally:
            leader.release()
            service.close()


def _open(settings: Settings, leader: Leader, clock: Clock) -> Service:
    """Lead (or not) and open the service; the SQLite lock comes first, before any migration."""
    try:
        leader.acquire()
        service = Service.open(settings)
    except (psycopg.Error, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(
            f"cannot open the database {redact_url(settings.database_url)}: {redact_url(reason)}; "
            "check database_url and that the server is reachable"
        ) from None
    try:
        service.apply_static(clock())
    except BaseException:
        service.close()
        raise
    return service


def _web_app_factory() -> AppFactory:
    from supportwatch.web.app import create_app  # noqa: PLC0415 - only `run` needs the web stack

    return create_app


def _run_server(app: Any, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the process's logging, set up by the CLI
        access_log=False,  # probes every few seconds would drown the job log
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run()
    except SystemExit:
        # uvicorn logs why (e.g. address in use) and exits; say what to change
        raise ConfigError(
            "web", f"cannot serve on {host}:{port} (see the error above); free the port or pass --port"
        ) from None


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
