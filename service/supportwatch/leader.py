"""Who runs the jobs: one leader per database (DESIGN §5).

``Leader.acquire()`` tries to lead without blocking. Two implementations, chosen from the
database URL by ``leader_for``:

- ``PostgresLeader``: ``pg_try_advisory_lock`` on a dedicated connection held for the
  process's life. Replicas that lose simply serve HTTP and try again later; the server drops
  a dead leader's lock together with its connection. A leader that hangs (stopped, swapped
  out, deadlocked) keeps its connection open, so the session is given a lease: the server ends
  it after ``lease_seconds`` without a query (``idle_session_timeout``, PostgreSQL 14+), and a
  live leader re-checks its lock well within that, on every election and before every job.
- ``FileLeader`` (SQLite): an exclusive ``flock`` on ``<db>.scheduler.lock``. SQLite runs one
  scheduler per file, so a second one is refused (``SchedulerLocked``) instead of waiting.

Leadership is a liveness optimisation only: the delivery log's unique keys let only one process
claim each send, even while two briefly believe they lead; delivery stays at least once (a crash
between a send and its record re-sends it after the lease).
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import make_url

from supportwatch.errors import ConfigError, SchedulerLocked

if TYPE_CHECKING:
    import psycopg

# One key per database (advisory locks are scoped to the database); never change it, or old
# and new replicas would both lead during a rolling upgrade.
ADVISORY_LOCK_KEY = 0x7377_7363_6865_64  # "swsched"


class Leader(Protocol):
    """The scheduler's right to run jobs."""

    @property
    def description(self) -> str:
        """What is locked, for log lines (never a secret)."""
        ...

    def acquire(self) -> bool:
        """Try to lead, without blocking; True while this process leads.

        Safe to call repeatedly: a leader re-checks that it still holds the lock. Raises
        ``SchedulerLocked`` where a second scheduler must not wait (SQLite).
        """
        ...

    def release(self) -> None:
        """Give up leadership (idempotent)."""
        ...


def _holder_label() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


class FileLeader:
    """An exclusive, non-blocking ``flock`` on a lock file next to the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def description(self) -> str:
        return f"lock file {self.path}"

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "a process not named"
            os.close(fd)
            raise SchedulerLocked(
                f"another supportwatch scheduler ({holder}) holds {self.path}: SQLite runs one scheduler "
                "per database file; stop that process first, or use PostgreSQL to run several replicas"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_holder_label()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            # the file stays: deleting a lock file lets two processes lock two different files
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresLeader:
    """``pg_try_advisory_lock`` held on a dedicated connection (not one of the engine's pool)."""

    def __init__(self, database_url: str, *, connect_timeout: int = 10, lease_seconds: float = 30.0) -> None:
        self._conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(False)
        self._connect_timeout = connect_timeout
        self._lease_ms = max(1000, int(lease_seconds * 1000))
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        # the election thread and the job thread both ask; one connection, one question at a time
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"PostgreSQL advisory lock {ADVISORY_LOCK_KEY}"

    def acquire(self) -> bool:
        with self._lock:
            return self._acquire()

    def _acquire(self) -> bool:
        import psycopg  # noqa: PLC0415 - only a PostgreSQL service needs the driver

        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                # the session died, and the server released our lock with it
                self._drop()
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name=f"supportwatch-leader {_holder_label()}"[:63],
            # a hung leader's session (and so its lock) ends after the lease without a query
            options=f"-c idle_session_timeout={self._lease_ms}",
            # notice a dead network path in about a minute instead of hours
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()
        except psycopg.Error:
            conn.close()
            raise
        if row is not None and row[0] is True:
            self._conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        # closing the session releases its advisory locks
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def leader_for(database_url: str, *, lease_seconds: float = 30.0) -> Leader:
    """The leader implementation for this database: a lock file for SQLite, else an advisory lock
    whose session ends after ``lease_seconds`` without a query (see ``PostgresLeader``)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                "database_url",
                "an in-memory SQLite database cannot be served; use a file, e.g. sqlite:///var/supportwatch.db",
            )
        return FileLeader(Path(f"{url.database}.scheduler.lock"))
    if backend == "postgresql":
        return PostgresLeader(database_url, lease_seconds=lease_seconds)
    raise ConfigError("database_url", f"backend {backend!r} is not supported; use sqlite or postgresql")
