"""What a run would send, written to files for review — nothing is sent, no database is read.

``write_preview`` renders exactly what the integrations would send for the given reports and
data health, as a first run would send it (the delivery log, acks and episodes are not read: no
reminders, repeats, replies or resolutions): per receiver, each Slack message as the JSON
payload posted (``slack-01.json``, ...), each email as the ``.eml`` the SMTP server would get
and its HTML part beside it (``email-01.eml``, ``email-01.html``), the console's text; with
``digest``, the week's digest on every channel it goes to instead. An operator reviews a change
of config or template with it; ``supportwatch preview`` is its command.

No secret is written: a webhook URL or a token is never part of a payload; a bot's channel is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from email import policy
from pathlib import Path

from supportwatch.checks import DeploymentReport
from supportwatch.config import Settings
from supportwatch.errors import ConfigError
from supportwatch.notify.delivery import Batch, NoThreads, make_batches
from supportwatch.notify.digest import DigestInputs, build_digest, iso_week
from supportwatch.notify.email import render_email, render_html
from supportwatch.notify.log import Claim
from supportwatch.notify.message import Message, deployment_url
from supportwatch.notify.plan import Router, firing
from supportwatch.notify.slack_blocks import slack_payloads
from supportwatch.notify.text import plain_text
from supportwatch.notify.wiring import NotifyRuntime, build_integrations, public_url, router
from supportwatch.values import Finding


def write_preview(
    settings: Settings,
    reports: Sequence[DeploymentReport],
    health: Sequence[Finding],
    *,
    now: datetime,
    output: Path,
    receiver: str | None,
    digest: bool,
) -> list[Path]:
    """Write what would be sent to ``output/<receiver>/`` (only ``receiver``'s, if given): the
    notices a first run at ``now`` sends or, with ``digest``, ``now``'s weekly digest. Returns
    the files written, in order. Raises ``ConfigError`` for a receiver that is not configured."""
    routes = router(settings)
    if receiver is not None and receiver not in routes.kinds:
        known = ", ".join(sorted(routes.kinds))
        raise ConfigError("--receiver", f"{receiver!r} is not a receiver; known: {known}")
    if digest:
        messages = _digests(settings, routes, reports, health, now=now, only=receiver)
    else:
        messages = _notices(settings, routes, reports, health, now=now, only=receiver)
    writer = _Writer(settings, output, now)
    for target, message, key in messages:
        writer.write(target, message, key, digest=digest)
    return writer.written


def _notices(
    settings: Settings,
    routes: Router,
    reports: Sequence[DeploymentReport],
    health: Sequence[Finding],
    *,
    now: datetime,
    only: str | None,
) -> list[tuple[str, Message, str]]:
    outgoing = firing(
        [*health, *(finding for report in reports for finding in report.findings)],
        router=routes,
        first_seen={},
        now=now,
        repeat_days=settings.notify.repeat_interval_days,
        muted=(),
        reports={report.deployment.name: report for report in reports},
        public_url=public_url(settings),
    )
    claims = [
        Claim(item.target, item.key, item.payload.to_json(), 0, now)
        for item in outgoing
        if only is None or item.target.partition("/")[0] == only
    ]
    integrations = build_integrations(settings, NotifyRuntime())
    batches: list[Batch] = make_batches(claims, integrations, NoThreads())
    return [(batch.target, batch.message, batch.delivery_key) for batch in batches]


def _digests(
    settings: Settings,
    routes: Router,
    reports: Sequence[DeploymentReport],
    health: Sequence[Finding],
    *,
    now: datetime,
    only: str | None,
) -> list[tuple[str, Message, str]]:
    today = now.astimezone(settings.tz).date()
    week = iso_week(today)
    names = [only] if only is not None else routes.receivers({r.deployment.team for r in reports})
    base = public_url(settings)
    result = []
    for name in names:
        routed = [r for r in reports if routes.receiver(r.deployment.team) == name]
        content = build_digest(
            DigestInputs(
                receiver=name,
                week=week,
                today=today,
                reports=routed,
                health=health,
                horizon_days=settings.notify.digest_horizon_days,
                urls={
                    r.deployment.name: url for r in routed if (url := deployment_url(base, r.deployment.name))
                },
            )
        )
        for target in routes.digest_targets(name):
            result.append((target, Message(name, digest=content), f"{target}\ndigest:{week}"))
    return result


class _Writer:
    """Writes each message as its integration would send it, numbering the files per target."""

    def __init__(self, settings: Settings, output: Path, now: datetime) -> None:
        self.settings = settings
        self.output = output
        self.now = now
        self.written: list[Path] = []
        self._counts: dict[str, int] = {}
        self._channels = {
            f"{item.name}/slack": item.slack.channel
            for item in settings.receivers
            if item.slack is not None and item.slack.token is not None
        }
        self._to = {
            f"{item.name}/email": list(item.email.to) for item in settings.receivers if item.email is not None
        }

    def _path(self, target: str, suffix: str, *, digest: bool) -> Path:
        receiver, _, kind = target.partition("/")
        stem = f"digest-{kind}" if digest else kind
        number = self._counts[target] = self._counts.get(target, 0) + 1
        folder = self.output / receiver
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{stem}-{number:02d}{suffix}"

    def _save(self, path: Path, data: str | bytes) -> None:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        self.written.append(path)

    def write(self, target: str, message: Message, key: str, *, digest: bool) -> None:
        kind = target.partition("/")[2]
        if kind == "slack":
            for payload in slack_payloads(message):
                channel = self._channels.get(target)
                body = {"channel": channel, **payload} if channel else payload
                self._save(self._path(target, ".json", digest=digest), json.dumps(body, indent=2) + "\n")
        elif kind == "email" and self.settings.smtp is not None:
            smtp = self.settings.smtp
            email = render_email(
                message,
                sender=smtp.sender,
                to=self._to.get(target, []),
                now=self.now,
                delivery_key=key,
                sender_name=smtp.sender_name,
            )
            path = self._path(target, ".eml", digest=digest)
            self._save(path, email.as_bytes(policy=policy.SMTP))
            self._save(path.with_suffix(".html"), render_html(message))
        else:  # the console, or a kind this version cannot render: its text
            self._save(
                self._path(target, ".txt", digest=digest), f"{message.subject}\n{plain_text(message)}\n"
            )
