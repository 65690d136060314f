"""What the notification tables' SQL shares (``log``, ``silences``, ``episodes``): long key lists
are sent in chunks under the backends' bound-parameter limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def slices(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive chunks of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
