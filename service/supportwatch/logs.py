"""The process's log output (``log: {format: text|json, level: info}``).

``text`` is one line for a person at a terminal. ``json`` is one object per line for a log
collector: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, and the event's own
fields where the call gave them (``extra={"source": ...}``: ``FIELDS``). Nothing here adds a
value the call did not log; the calls keep secrets out (the shared no-secret suite covers them).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO

FIELDS = ("source", "deployment", "receiver", "target", "dedup_key", "job")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# libraries that say too much at INFO: APScheduler logs every job run (the jobs log what they
# did), httpx every request URL (query tokens and user:password@ included)
QUIET = ("apscheduler", "alembic.runtime.plugins", "httpx", "httpcore")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                item[name] = str(value)
        if record.exc_info:
            item["exception"] = self.formatException(record.exc_info)
        return json.dumps(item, ensure_ascii=False)


def configure(format: str = "text", level: str = "info", stream: IO[str] | None = None) -> None:
    """Send every log record at ``level`` or above to ``stream`` (stderr) in ``format``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
