"""The app's routes as tests walk them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any


def flat(routes: Sequence[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI lists an included router as one)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from flat(inner.routes)
        else:
            yield route
