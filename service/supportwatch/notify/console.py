"""The built-in ``console`` receiver: every message goes to the log, so a bare install works."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from supportwatch.notify.base import Outcome
from supportwatch.notify.layout import layout
from supportwatch.notify.message import Message, Notice
from supportwatch.notify.text import plain_text

logger = logging.getLogger("supportwatch.notify.console")
# a console message names at most this many deployments: each log record stays readable, and a
# large fleet's first run is a series of parts, not one record of megabytes
DEPLOYMENTS_PER_MESSAGE = 50


def console_chunks(notices: Sequence[Notice]) -> list[tuple[Notice, ...]]:
    """A run's notices to the console as messages of at most ``DEPLOYMENTS_PER_MESSAGE``
    deployments, in the order a message shows them (``layout``): data health and the facts
    about the fleet in the first (each said once), then each deployment's notices in one."""
    shaped = layout(notices)
    first = [*shaped.health, *(notice for fact in shaped.fleet for notice in fact.notices)]
    groups = [group.notices for group in shaped.deployments]
    chunks = [
        tuple(notice for group in groups[start : start + DEPLOYMENTS_PER_MESSAGE] for notice in group)
        for start in range(0, len(groups), DEPLOYMENTS_PER_MESSAGE)
    ] or [()]
    chunks[0] = (*first, *chunks[0])
    return [chunk for chunk in chunks if chunk]


class ConsoleNotifier:
    """Logs each message at WARNING (shown even without logging configured), or hands it to ``write``."""

    channel = "console"

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write

    def send(self, message: Message) -> Outcome:
        """Write the message; a stream that fails to take it (a closed pipe) is worth a retry."""
        text = f"{message.subject}\n{plain_text(message)}"
        try:
            if self._write is not None:
                self._write(text)
            else:
                logger.warning("%s", text)
        except (OSError, ValueError) as exc:  # ValueError: a write to a closed file
            return Outcome.retry(f"console unwritable: {type(exc).__name__}")
        return Outcome.sent()
