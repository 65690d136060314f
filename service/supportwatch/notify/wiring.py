"""Explicit wiring: receiver integration kind -> constructor; no registry magic.

The one place that reads the notification settings: it builds the integrations, the router's
plain values (``plan.Route``) and the list of secrets to redact.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from supportwatch.config import ReceiverSettings, Settings
from supportwatch.errors import PermanentDeliveryError
from supportwatch.notify.base import Notifier, Unusable
from supportwatch.notify.console import ConsoleNotifier, console_chunks
from supportwatch.notify.message import Notice
from supportwatch.notify.pacing import RateLimiter
from supportwatch.notify.plan import CONSOLE, Route, Router

Splitter = Callable[[Sequence[Notice]], list[tuple[Notice, ...]]]


def utc_now() -> datetime:
    """The wall clock, aware UTC: an email's Date header, an HTTP-date Retry-After."""
    return datetime.now(UTC)


@dataclass
class NotifyRuntime:
    """What a run may have injected: the sleep and clock behind retries and rate limits, the
    wall clock, a TLS context trusting a test CA, a console writer. The defaults are the real
    ones."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    ssl_context: ssl.SSLContext | None = None
    console: Callable[[str], None] | None = None
    now: Callable[[], datetime] = utc_now


def integration_kinds(receiver: ReceiverSettings | None) -> list[str]:
    """The integrations of a receiver, in send order; the built-in console has one."""
    if receiver is None:
        return [CONSOLE]
    return [kind for kind, part in (("slack", receiver.slack), ("email", receiver.email)) if part is not None]


def router(settings: Settings) -> Router:
    """The routes and receivers of ``settings`` as ``plan`` takes them."""
    return Router.of(
        [Route(route.match.team, route.receiver) for route in settings.routes],
        receivers={receiver.name: integration_kinds(receiver) for receiver in settings.receivers},
        default=settings.default_receiver,
        health=settings.data_health_receiver,
        digests={
            receiver.name: list(receiver.digest.channels)
            for receiver in settings.receivers
            if receiver.digest is not None
        },
    )


def public_url(settings: Settings) -> str | None:
    """The dashboard's address as people reach it (``web.public_url``), if configured."""
    url = settings.web.public_url
    return str(url) if url is not None else None


@dataclass(frozen=True, slots=True)
class Integration:
    """One target (``receiver/kind``): its notifier, how it splits notices, its channel key, and
    whether a follow-up can reply in the thread of its first message (a bot token, email)."""

    target: str
    notifier: Notifier
    split: Splitter
    channel: str
    threads: bool = False
    # waits until the channel may take a message (Slack's rate limit), before a send's turn
    pace: Callable[[], None] | None = None


def _whole(notices: Sequence[Notice]) -> list[tuple[Notice, ...]]:
    return [tuple(notices)] if notices else []


def _slack(
    settings: Settings, receiver: ReceiverSettings, runtime: NotifyRuntime, limiter: RateLimiter
) -> Integration:
    # the Slack client is loaded only by a service that has a Slack receiver
    from supportwatch.notify.slack import SlackNotifier  # noqa: PLC0415
    from supportwatch.notify.slack_blocks import slack_chunks  # noqa: PLC0415

    assert receiver.slack is not None
    target = f"{receiver.name}/slack"
    try:
        notifier = SlackNotifier(
            receiver.slack, limiter=limiter, now=runtime.now, timeout=settings.notify.timeout_seconds
        )
    except PermanentDeliveryError as exc:
        # this target's deliveries are dead-lettered with the reason; the other targets still send
        unusable = Unusable(f"receiver {receiver.name!r}: {exc}")
        return Integration(target, unusable, slack_chunks, f"unusable:{target}")
    return Integration(
        target, notifier, slack_chunks, notifier.channel, threads=notifier.threads, pace=notifier.pace
    )


def _email(
    settings: Settings, receiver: ReceiverSettings, runtime: NotifyRuntime, limiter: RateLimiter
) -> Integration:
    from supportwatch.notify.email import EmailNotifier  # noqa: PLC0415 - as for Slack above

    assert receiver.email is not None
    assert settings.smtp is not None
    notifier = EmailNotifier(
        settings.smtp, receiver.email.to, now=runtime.now, ssl_context=runtime.ssl_context
    )
    return Integration(f"{receiver.name}/email", notifier, _whole, notifier.channel, threads=True)


def _console(receiver_name: str, runtime: NotifyRuntime) -> Integration:
    notifier = ConsoleNotifier(runtime.console)
    return Integration(f"{receiver_name}/{CONSOLE}", notifier, console_chunks, CONSOLE)


KINDS: dict[str, Callable[[Settings, ReceiverSettings, NotifyRuntime, RateLimiter], Integration]] = {
    "slack": _slack,
    "email": _email,
}


def build_integrations(settings: Settings, runtime: NotifyRuntime) -> dict[str, Integration]:
    """Every target of every configured receiver, plus the built-in console, by target name."""
    limiter = RateLimiter(settings.notify.slack_rate_per_second, clock=runtime.clock, sleep=runtime.sleep)
    built = {f"{CONSOLE}/{CONSOLE}": _console(CONSOLE, runtime)}
    for receiver in settings.receivers:
        for kind in integration_kinds(receiver):
            try:
                integration = KINDS[kind](settings, receiver, runtime, limiter)
            except Exception as exc:
                # one target that cannot be built never stops the others; its message could
                # quote a secret, so only the type is kept
                target = f"{receiver.name}/{kind}"
                reason = (
                    f"receiver {receiver.name!r}: its {kind} integration cannot be set up "
                    f"({type(exc).__name__})"
                )
                integration = Integration(target, Unusable(reason), _whole, f"unusable:{target}")
            built[integration.target] = integration
    return built


def secrets(settings: Settings) -> list[str]:
    """Every notification secret's value, for redaction."""
    found = [settings.smtp.password] if settings.smtp is not None and settings.smtp.password else []
    for receiver in settings.receivers:
        if receiver.slack is not None:
            found += [s for s in (receiver.slack.webhook_url, receiver.slack.token) if s is not None]
    return [secret.get_secret_value() for secret in found]
