"""Long lists sent to the database a slice at a time: key lists under the backends'
bound-parameter limits, rows per statement under a bound on what is encoded at once. The
catalog store and the notification tables (and the claims that feed them) share it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def slices(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive chunks of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
