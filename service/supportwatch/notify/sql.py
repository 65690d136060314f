"""What the notification tables' SQL shares (``log``, ``silences``, ``episodes``).

Rows are created insert-or-nothing (``ON CONFLICT``), which SQLite and PostgreSQL spell alike
but SQLAlchemy offers per dialect; long key lists are sent in chunks under the backends'
bound-parameter limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

T = TypeVar("T")


def insert_for(engine: Engine, model: Any) -> Any:
    """The dialect's INSERT on ``model``'s Core table, which knows ``ON CONFLICT``.

    The Core table, not the ORM entity: an ORM-entity INSERT reports no reliable rowcount or
    RETURNING row.
    """
    table = table_of(model)
    return pg_insert(table) if engine.dialect.name == "postgresql" else sqlite_insert(table)


def table_of(model: Any) -> Table:
    return cast("Table", model.__table__)


def slices(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive chunks of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
