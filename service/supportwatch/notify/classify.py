"""Which delivery failures are retried: Slack's error codes and SMTP replies.

HTTP statuses and ``Retry-After`` are read by ``supportwatch.retry``, shared with the release
sources (408, 425, 429 and the 5xx that can pass retry; 501, 505 and the other 5xx that
describe the request do not), and so is the backoff between tries. Here: Slack's rate-limit
and internal errors and SMTP 4xx replies are transient (network errors are too, in each
notifier); everything else (invalid_auth, channel_not_found, is_archived, SMTP 5xx, a
certificate that fails verification) is permanent: retrying cannot help.
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


def slack_error_retryable(error: str, status: int = 200) -> bool:
    """Whether a Slack API ``ok: false`` error (or a webhook's error body) with HTTP ``status``
    may succeed later."""
    return error in RETRYABLE_SLACK_ERRORS or retryable_status(status)


def smtp_code_retryable(code: int) -> bool:
    """SMTP 4xx replies are transient; 5xx (and anything unexpected) are permanent."""
    return 400 <= code <= 499
