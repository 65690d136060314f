"""The built-in ``console`` receiver: every message goes to the log, so a bare install works."""

from __future__ import annotations

import logging
from collections.abc import Callable

from supportwatch.notify.base import Outcome
from supportwatch.notify.message import Message
from supportwatch.notify.text import plain_text

logger = logging.getLogger("supportwatch.notify.console")


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
