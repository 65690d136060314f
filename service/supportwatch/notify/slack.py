"""Slack: incoming webhooks and bot tokens (``chat.postMessage``) through slack-sdk.

The SDK's own retry handlers are switched off (retries are ``delivery.py``'s job) and its
logger is kept above DEBUG, because at DEBUG it logs the request URL — for a webhook, the
credential. Each send first waits for the channel's turn: at most ``rate`` messages per second
per channel, across every receiver that posts to it.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from supportwatch.config import SlackSettings
from supportwatch.notify.base import Outcome, redact
from supportwatch.notify.classify import http_status_retryable, slack_error_retryable
from supportwatch.notify.message import Message, slack_payload

DEFAULT_API_URL = "https://slack.com/api/"

_sdk_logger = logging.getLogger("supportwatch.notify.slack_sdk")
_sdk_logger.setLevel(logging.WARNING)


class RateLimiter:
    """At most ``rate`` sends per second per channel key; ``clock`` and ``sleep`` are injectable."""

    def __init__(
        self,
        rate: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        """Block until ``channel`` may take another message, and book that slot."""
        now = self.clock()
        ready = self._next.get(channel, now)
        if ready > now:
            self.sleep(ready - now)
            now = self.clock()
        self._next[channel] = max(now, ready) + self.interval


class SlackNotifier:
    """One Slack destination: a webhook, or a bot token with a channel (and optional API URL)."""

    def __init__(self, settings: SlackSettings, *, limiter: RateLimiter, timeout: float = 10.0) -> None:
        self.limiter = limiter
        self._secrets = [
            s.get_secret_value() for s in (settings.webhook_url, settings.token) if s is not None
        ]
        seconds = max(1, round(timeout))
        if settings.webhook_url is not None:
            url = settings.webhook_url.get_secret_value()
            self.channel = "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
            self._webhook: WebhookClient | None = WebhookClient(
                url, timeout=seconds, logger=_sdk_logger, retry_handlers=[]
            )
            self._client: WebClient | None = None
            self._channel_name = ""
        else:
            assert settings.token is not None
            assert settings.channel is not None
            api_url = (settings.api_url or DEFAULT_API_URL).rstrip("/") + "/"
            self.channel = f"{api_url}#{settings.channel}"
            self._webhook = None
            self._client = WebClient(
                token=settings.token.get_secret_value(),
                base_url=api_url,
                timeout=seconds,
                logger=_sdk_logger,
                retry_handlers=[],
            )
            self._channel_name = settings.channel

    def send(self, message: Message) -> Outcome:
        """Post one message; 429 carries Retry-After, 5xx and network errors are retryable."""
        payload = slack_payload(message)
        self.limiter.wait(self.channel)
        try:
            outcome = self._post(payload)
        except SlackApiError as exc:
            outcome = _api_error(exc)
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            outcome = Outcome.retry(f"Slack unreachable: {type(exc).__name__}: {exc}")
        return Outcome(
            outcome.ok, outcome.retryable, redact(outcome.error, self._secrets), outcome.retry_after
        )

    def _post(self, payload: dict[str, Any]) -> Outcome:
        if self._webhook is not None:
            response = self._webhook.send(text=payload["text"], blocks=payload["blocks"])
            if response.status_code == 200:
                return Outcome.sent()
            body = (response.body or "").strip()[:200]
            return _classified(response.status_code, body, response.headers)
        assert self._client is not None
        self._client.chat_postMessage(
            channel=self._channel_name, text=payload["text"], blocks=payload["blocks"]
        )
        return Outcome.sent()


def _api_error(exc: SlackApiError) -> Outcome:
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error", "")).strip()[:200] or "no error code"
    return _classified(response.status_code, error, response.headers)


def _classified(status: int, error: str, headers: Any) -> Outcome:
    text = f"Slack answered HTTP {status}: {error}"
    if status == 429 or slack_error_retryable(error, status) or http_status_retryable(status):
        return Outcome.retry(text, retry_after=_retry_after(headers))
    return Outcome.permanent(text)


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None
