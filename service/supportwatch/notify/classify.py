"""The one place that decides which failures are retried, and how long to wait between tries.

Transient: HTTP 408, 425, 429 and 5xx (except 501, 505 and the other 5xx that describe the
request: ``supportwatch.retry``, shared with the release sources), Slack's rate-limit and
internal errors, SMTP 4xx replies and network errors. Everything else (invalid_auth,
channel_not_found, is_archived, SMTP 5xx, a certificate that fails verification) is
permanent: retrying cannot help. ``Retry-After`` is read by ``supportwatch.retry`` too.
"""

from __future__ import annotations

from supportwatch.retry import retryable_status

RETRYABLE_SLACK_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)


def http_status_retryable(status: int) -> bool:
    """Whether an HTTP error status may succeed later (``supportwatch.retry.retryable_status``)."""
    return retryable_status(status)


def slack_error_retryable(error: str, status: int = 200) -> bool:
    """Whether a Slack API ``ok: false`` error (or webhook error body) may succeed later."""
    return error in RETRYABLE_SLACK_ERRORS or http_status_retryable(status)


def smtp_code_retryable(code: int) -> bool:
    """SMTP 4xx replies are transient; 5xx (and anything unexpected) are permanent."""
    return 400 <= code <= 499


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based): exponential, capped."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))
