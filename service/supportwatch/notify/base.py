"""The notifier contract: one ``send``, whose outcome says whether a failure is worth retrying.

Retry policy lives outside the integrations (``delivery.py``); which failures retry is decided
by ``classify.py`` alone. An integration never raises for a delivery failure and never lets a
secret into ``Outcome.error``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from supportwatch.notify.message import Message


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt: sent, or failed and retryable, or failed for good.

    A sent outcome may carry an ``error`` as a warning: it went out, but not to everyone.
    """

    ok: bool
    retryable: bool = False
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def sent(cls, warning: str = "") -> Outcome:
        return cls(ok=True, error=warning)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> Outcome:
        return cls(ok=False, retryable=True, error=error, retry_after=retry_after)

    @classmethod
    def permanent(cls, error: str) -> Outcome:
        return cls(ok=False, retryable=False, error=error)


class Notifier(Protocol):
    """One integration of one receiver (a Slack webhook, a bot channel, an email list, the log)."""

    def send(self, message: Message) -> Outcome:
        """Deliver ``message`` once, without retrying; failures come back as an ``Outcome``."""
        ...


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret value (and its URL path, for webhooks) replaced by ***."""
    values = {s for s in secrets if s}
    # a webhook's credential is its path: proxies and HTTP libraries quote the path without the host
    values |= {path for s in values if len(path := urlsplit(s).path) > 1 and "://" in s}
    for secret in sorted(values, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
