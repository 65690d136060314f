"""``create_engine_for``: SQLite files open in WAL mode even when another process holds a lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from supportwatch.engine import create_engine_for


def test_a_new_database_is_switched_to_wal_once_another_connections_lock_is_released(
    tmp_path: Path,
) -> None:
    """SQLite refuses the WAL switch at once ("database is locked", busy timeout or not) while
    another connection is writing: the first connection of a process that opens a new database
    beside another (a migration child, a second replica) waits for the writer instead."""
    path = tmp_path / "sw.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    # a rollback-journal database with a writer in its transaction (what a migration holds)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.3, holder.execute, args=("COMMIT",)).start()
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
    finally:
        engine.dispose()
        holder.close()
    assert mode == "wal"


def test_a_database_already_in_wal_mode_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "sw.db"
    first = create_engine_for(f"sqlite:///{path}")
    second = create_engine_for(f"sqlite:///{path}")
    try:
        with first.begin() as writing:
            writing.execute(text("CREATE TABLE t (x INTEGER)"))
            writing.execute(text("INSERT INTO t VALUES (1)"))
            # a second process connecting while this one writes: no switch, no lock to wait for
            with second.connect() as reading:
                assert reading.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        first.dispose()
        second.dispose()
