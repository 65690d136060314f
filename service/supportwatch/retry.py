"""When an HTTP failure may be retried, and how long the server asked us to wait — pure.

One reading for the release sources (``sources/http.py``) and the notifiers
(``notify/slack.py``, ``notify/classify.py``) alike:

- ``retryable_status``: 408, 425, 429 and the 5xx that can pass (500, 502, 503, 504, ...).
  501 Not Implemented, 505 HTTP Version Not Supported, 506, 508, 510 and 511 say the request
  itself cannot work there; repeating it cannot help.
- ``retry_after``: ``Retry-After`` as seconds from ``now``, RFC 9110 only: delta-seconds (ASCII
  digits) or an HTTP date. Anything else (``inf``, ``1e12``, ``-5``, ``NaN``, ``1.5``, garbage)
  is None, so the caller falls back to its own backoff; a valid value is bounded to
  ``0 ..= MAX_RETRY_AFTER_SECONDS``, so a server can never park a job for ever (or overflow a
  datetime) by asking for a long wait.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 3600.0

# 5xx answers that describe the request, not a passing state of the server
_PERMANENT_5XX = frozenset({501, 505, 506, 508, 510, 511})
_RETRYABLE_4XX = frozenset({408, 425, 429})
# longer digit strings are capped without converting them (int() refuses > 4300 digits)
_MAX_DIGITS = 12


def retryable_status(status: int) -> bool:
    """Whether an HTTP status may succeed when the same request is sent again later."""
    return status in _RETRYABLE_4XX or (500 <= status <= 599 and status not in _PERMANENT_5XX)


def retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds from ``now`` (aware), at most ``MAX_RETRY_AFTER_SECONDS``.

    None when the header is absent or not one of RFC 9110's two forms; 0.0 for a date past.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():  # "²".isdigit() and "٣".isdigit() are True too
        if len(text) > _MAX_DIGITS:
            return MAX_RETRY_AFTER_SECONDS
        return _bounded(float(text))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):  # a year past C's int overflows
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = (moment - now).total_seconds()
    except OverflowError:
        return MAX_RETRY_AFTER_SECONDS
    return _bounded(seconds)


def _bounded(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
