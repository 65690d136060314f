"""Helpers for the tests of two writers at once: run calls together, count what they left."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Each call on its own thread, all started before any is joined; their results in order.
    An exception in any call fails the test here, in the test's thread."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def row_count(engine: Engine, table: Any) -> int:
    """How many rows ``table`` holds."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
