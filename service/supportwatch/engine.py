"""``create_engine_for``: the one way a process opens its database (the store, the notification
log, the migrations and the leader election all share the engine it returns)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# SQLite's busy timeout: how long a connection waits for another's lock (also on the WAL switch)
BUSY_SECONDS = 30.0


def create_engine_for(url: str) -> Engine:
    """The process's one engine for ``url``; SQLite gets WAL, a busy timeout and its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (it stays so: in effect, once per database).

    SQLite answers the switch with "database is locked" at once, without waiting out the busy
    timeout, while another connection is writing: processes opening a new database together
    (replicas, or `run` and its migration child) would fail at random. So the switch is retried
    until the file is in WAL mode, by this connection or another, or the timeout passes.
    """
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
