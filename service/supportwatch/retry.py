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
  datetime) by asking for a long wait. ``retry_after_in`` finds the header in a mapping;
  ``delta_seconds`` reads only the seconds form, for a caller without a clock.
- ``backoff``: the wait after the N-th failure when the server named none: exponential, capped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def retry_after_in(headers: Mapping[str, object] | None, now: datetime) -> float | None:
    """``retry_after`` of the ``Retry-After`` header in ``headers`` (any case; a list: its first)."""
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            return retry_after(raw if isinstance(raw, str) else None, now)
    return None


def delta_seconds(value: str | None) -> float | None:
    """``Retry-After`` in its delta-seconds form only, bounded as by ``retry_after``; None for
    an HTTP date (or anything else): for a caller with no ``now`` to measure a date from."""
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return retry_after(text, datetime.min.replace(tzinfo=UTC))  # the moment is not read


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based): exponential, capped."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


def _bounded(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
