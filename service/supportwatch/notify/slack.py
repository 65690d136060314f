"""Slack: incoming webhooks and bot tokens (``chat.postMessage``) through slack-sdk.

The SDK's own retry handlers are switched off (retries are ``delivery.py``'s job) and its
loggers (``slack_sdk`` and its children, and the one handed to its clients) print nothing: at
DEBUG they log request URLs and bodies, and at ERROR, on every try, the exception, which quotes
the URL of a mistyped webhook — for a webhook, the URL is the credential. ``delivery.py`` logs
each failure itself, in one redacted line. A webhook or API URL that is not http(s) is refused
when the notifier is built (``PermanentDeliveryError``, naming the key, never the URL): its
deliveries are dead-lettered with that reason. Each post first waits for the channel's turn: at
most ``rate`` messages per second per channel, across every receiver that posts to it (and
across the threads that send to several channels at once: the limiter is thread-safe).

With a bot token a message can reply in a thread (``thread_ts``): the ``ts`` Slack gives each
post is returned as the outcome's ``external_id``, and a digest that takes several messages
continues in the thread of its first. An incoming webhook cannot thread: it posts at top level.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from supportwatch.config import SlackSettings
from supportwatch.errors import PermanentDeliveryError
from supportwatch.notify.base import Outcome, redact
from supportwatch.notify.classify import slack_error_retryable
from supportwatch.notify.message import Message
from supportwatch.notify.pacing import RateLimiter
from supportwatch.notify.slack_blocks import slack_payloads
from supportwatch.retry import retry_after_in

DEFAULT_API_URL = "https://slack.com/api/"

_sdk_logger = logging.getLogger("supportwatch.notify.slack_sdk")
SDK_LOGGERS = ("slack_sdk", _sdk_logger.name)


class _DropRecords(logging.Filter):
    """Drops every record: the SDK's log lines may quote a request URL (a webhook's credential)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_DROP = _DropRecords()


def quiet_sdk_loggers() -> None:
    """Keep the SDK's loggers from printing: level above CRITICAL and a filter dropping records.

    Applied to ``slack_sdk`` (its children inherit the level unless configured otherwise), to
    each child that exists already (a level set on it by a logging config is overridden), and
    to the logger the clients are given. Idempotent; run by every ``SlackNotifier``.
    """
    manager = logging.Logger.manager
    names = [*SDK_LOGGERS, *(name for name in list(manager.loggerDict) if name.startswith("slack_sdk."))]
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        if _DROP not in logger.filters:
            logger.addFilter(_DROP)


def _http_url(url: str, key: str) -> str:
    """``url`` when it is an absolute http(s) URL; else ``PermanentDeliveryError`` naming ``key``."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        # the URL itself is never quoted: a webhook URL is the credential
        raise PermanentDeliveryError(
            f"slack.{key} is not an http(s) URL with a host (it must look like "
            "https://hooks.slack.com/services/...); fix it in the config and restart, "
            "then `supportwatch redrive` the dead letters"
        )
    return url


quiet_sdk_loggers()


class SlackNotifier:
    """One Slack destination: a webhook, or a bot token with a channel (and optional API URL)."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        limiter: RateLimiter,
        now: Callable[[], datetime],
        timeout: float = 10.0,
    ) -> None:
        """Raises ``PermanentDeliveryError`` when the webhook or API URL is not http(s).

        ``now`` is the wall clock (aware UTC) an HTTP-date ``Retry-After`` is read against.
        """
        quiet_sdk_loggers()
        self.limiter = limiter
        self._now = now
        self._secrets = [
            s.get_secret_value() for s in (settings.webhook_url, settings.token) if s is not None
        ]
        seconds = max(1, round(timeout))
        if settings.webhook_url is not None:
            url = _http_url(settings.webhook_url.get_secret_value(), "webhook_url")
            self.channel = "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
            self._webhook: WebhookClient | None = WebhookClient(
                url, timeout=seconds, logger=_sdk_logger, retry_handlers=[]
            )
            self._client: WebClient | None = None
            self._channel_name = ""
        else:
            assert settings.token is not None
            assert settings.channel is not None
            api_url = _http_url(settings.api_url or DEFAULT_API_URL, "api_url").rstrip("/") + "/"
            self.channel = f"{api_url}#{settings.channel}"
            self._webhook = None
            self._client = _NoRedirectWebClient(
                token=settings.token.get_secret_value(),
                base_url=api_url,
                timeout=seconds,
                logger=_sdk_logger,
                retry_handlers=[],
            )
            self._channel_name = settings.channel

    def pace(self) -> None:
        """Wait for this channel's turn (``RateLimiter.ready``); ``send`` then takes it."""
        self.limiter.ready(self.channel)

    @property
    def threads(self) -> bool:
        """Whether this destination can reply in a thread (a bot token; a webhook cannot)."""
        return self._client is not None

    def send(self, message: Message) -> Outcome:
        """Post the message (a long digest: its messages in turn, the later ones in the first's
        thread); 429 carries Retry-After, 5xx and network errors are retryable. A failure part-way
        fails the whole: a retry posts it all again (delivery is at least once)."""
        first = ""
        for index, payload in enumerate(slack_payloads(message)):
            continued = {**payload, "thread_ts": first} if index and first and self.threads else payload
            outcome = self._post_once(continued)
            if not outcome.ok:
                return outcome
            first = first or outcome.external_id
        return Outcome.sent(external_id=first)

    def _post_once(self, payload: dict[str, Any]) -> Outcome:
        self.limiter.wait(self.channel)
        try:
            outcome = self._post(payload)
        except SlackApiError as exc:
            outcome = self._api_error(exc)
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            outcome = Outcome.retry(f"Slack unreachable: {type(exc).__name__}: {exc}")
        error = redact(outcome.error, self._secrets)
        return Outcome(outcome.ok, outcome.retryable, error[:300], outcome.retry_after, outcome.external_id)

    def _post(self, payload: dict[str, Any]) -> Outcome:
        if self._webhook is not None:
            response = self._webhook.send(text=payload["text"], blocks=payload["blocks"])
            if response.status_code == 200:
                return Outcome.sent()
            # cut only after redaction (in send): a cut inside a quoted webhook path would
            # leave a part of the secret that redaction cannot recognise
            body = (response.body or "").strip()
            return self._classified(response.status_code, body, response.headers)
        assert self._client is not None
        posted = self._client.chat_postMessage(
            channel=self._channel_name,
            text=payload["text"],
            blocks=payload["blocks"],
            thread_ts=payload.get("thread_ts"),
            reply_broadcast=payload.get("reply_broadcast"),
        )
        ts = posted.data.get("ts") if isinstance(posted.data, dict) else None
        return Outcome.sent(external_id=ts if isinstance(ts, str) else "")

    def _api_error(self, exc: SlackApiError) -> Outcome:
        response = exc.response
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error", "")).strip() or "no error code"
        return self._classified(response.status_code, error, response.headers)

    def _classified(self, status: int, error: str, headers: Any) -> Outcome:
        """Retry what ``classify`` says may pass, after the server's ``Retry-After`` if valid.

        ``Retry-After`` is read by ``supportwatch.retry``: 0..3600 seconds, or None (then:
        backoff); ``inf``, ``1e400``, ``NaN`` or a negative number never overflow a datetime.
        """
        text = f"Slack answered HTTP {status}: {error}"
        if slack_error_retryable(error, status):
            return Outcome.retry(text, retry_after=retry_after_in(dict(headers or {}), self._now()))
        return Outcome.permanent(text)


class _RefuseRedirect(urllib.request.HTTPRedirectHandler):
    """urllib follows redirects keeping the Authorization header: a bot token must never go
    to whatever host a redirect names. Returning None makes urllib raise the 3xx as an error."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _NoRedirectWebClient(WebClient):
    """slack_sdk's WebClient, opening its requests without following redirects."""

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> dict[str, Any]:
        # slack_sdk 3.x's own method, with an opener that refuses redirects (urllib's default
        # urlopen follows them); only http(s) URLs, as slack_sdk checks too
        if not url.lower().startswith("http"):
            raise SlackClientError(
                f"refusing a non-http URL for the Slack Web API: {url.split('?', maxsplit=1)[0]}"
            )
        opener = urllib.request.build_opener(_RefuseRedirect(), urllib.request.HTTPSHandler(context=self.ssl))
        with opener.open(req, timeout=self.timeout) as resp:
            charset = resp.headers.get_content_charset() or "utf-8"
            return {"status": resp.code, "headers": resp.headers, "body": resp.read().decode(charset)}
