"""The notifier contract: one ``send``, whose outcome says whether a failure is worth retrying.

Retry policy lives outside the integrations (``delivery.py``); which failures retry is decided
by ``classify.py`` alone. An integration never raises for a delivery failure and never lets a
secret into ``Outcome.error``; should one raise anyway, ``delivery.py`` records the exception
as a failed attempt of that one delivery and goes on with the others.

Delivery is at least once: a process that dies after a server accepted a message and before
its outcome was recorded sends it again once its lease expires. A ``KeyedNotifier`` receives
the delivery key with each message, so it can make such a re-send recognisable (email: a
Message-ID derived from the key, which mail clients fold).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from supportwatch.notify.message import Message


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt: sent, or failed and retryable, or failed for good.

    A sent outcome may carry an ``error`` as a warning: it went out, but not to everyone; and
    the ``external_id`` the server gave the message (a Slack ``ts``, an email's Message-ID),
    which later messages of the same thread reply to.
    """

    ok: bool
    retryable: bool = False
    error: str = ""
    retry_after: float | None = None
    external_id: str = ""

    @classmethod
    def sent(cls, warning: str = "", *, external_id: str = "") -> Outcome:
        return cls(ok=True, error=warning, external_id=external_id)

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


@runtime_checkable
class KeyedNotifier(Protocol):
    """A notifier that also takes the delivery key: ``target`` and the keys the message settles."""

    def send_keyed(self, message: Message, delivery_key: str) -> Outcome:
        """Like ``Notifier.send``; the same ``delivery_key`` comes with every re-send of the message."""
        ...


class Unusable:
    """A target that cannot send as configured (e.g. a webhook URL without a scheme).

    Every message to it is dead-lettered with ``reason`` (which names the config key, never a
    secret), so the run goes on with the other targets.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def send(self, message: Message) -> Outcome:
        return Outcome.permanent(self.reason)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret value (and its URL path, for webhooks) replaced by ***."""
    values = {s for s in secrets if s}
    # a webhook's credential is its path: proxies and HTTP libraries quote the path without the host
    values |= {path for s in values if len(path := urlsplit(s).path) > 1 and "://" in s}
    for secret in sorted(values, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
