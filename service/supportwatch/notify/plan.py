"""What is due, for whom — pure: routing, mutes (acks), repeat keys and "resolved" notices.

Delivery keys (``log.DeliveryKey``): a finding's ``dedup_key`` already names its facts (each
reminder rung, each new release gives a new key), so each is sent once. A critical finding is
re-sent every ``repeat_days`` while it stays open: period N after it was first seen is its
N-th repeat. A finding that disappears, and was not merely replaced by another of its family
on the same deployment (rung 30 -> rung 14 -> end of maintenance), gets one "resolved" notice
wherever its first notice (or a repeat) was delivered. A finding that comes back after it was
resolved starts a new episode (``episodes.py``) with keys of its own, so the return, its
repeats and its second resolution are announced too.

Data-health findings (a stale source, dates the sources disagree on) belong to no team: they
go to the data-health receiver, once per episode, and get a "resolved" notice when they clear.
Each notice carries its thread (``message.thread_key``), where its reminders, repeats and
resolution reply, and the deployment's dashboard page.

Everything here takes plain values: the caller turns the settings into ``Route`` values and
receiver kinds (``wiring.router``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from supportwatch.checks import DeploymentReport
from supportwatch.notify.episodes import FindingState
from supportwatch.notify.log import DeliveryKey
from supportwatch.notify.message import HEALTH_KINDS, Notice, deployment_url, family, thread_key
from supportwatch.notify.payload import NoticePayload, Payload
from supportwatch.values import Finding

CONSOLE = "console"

__all__ = ["CONSOLE", "Outgoing", "Route", "Router", "family", "fired_keys", "firing", "resolved_notices"]


@dataclass(frozen=True, slots=True)
class Route:
    """Findings of ``team`` go to ``receiver``."""

    team: str
    receiver: str


@dataclass(frozen=True, slots=True)
class Router:
    """Team -> receiver (first matching route, else ``default``) -> targets (``receiver/kind``).

    Data-health findings go to ``health`` (None: the default receiver); digests to each kind
    in ``digests`` for that receiver (absent: every kind it has).
    """

    routes: Mapping[str, str]
    default: str
    kinds: Mapping[str, Sequence[str]]
    health: str | None = None
    digests: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        routes: Sequence[Route],
        *,
        receivers: Mapping[str, Sequence[str]],
        default: str,
        health: str | None = None,
        digests: Mapping[str, Sequence[str]] | None = None,
    ) -> Router:
        """``receivers``: each configured receiver's integration kinds, in send order; the
        built-in ``console`` receiver is always there."""
        table: dict[str, str] = {}
        for route in routes:
            table.setdefault(route.team, route.receiver)
        kinds = {CONSOLE: [CONSOLE]} | {name: list(items) for name, items in receivers.items()}
        return cls(table, default, kinds, health, dict(digests or {}))

    def receiver(self, team: str, kind: str = "") -> str:
        """Who hears of a finding of ``team`` (of ``kind``: data health has its own receiver)."""
        if kind in HEALTH_KINDS:
            return self.health or self.default
        return self.routes.get(team, self.default)

    def targets(self, team: str, kind: str = "") -> list[str]:
        receiver = self.receiver(team, kind)
        return [f"{receiver}/{integration}" for integration in self.kinds.get(receiver, [CONSOLE])]

    def digest_targets(self, receiver: str) -> list[str]:
        """Every target the receiver's digest goes to: each of its kinds, unless its
        ``digest.channels`` names fewer."""
        kinds = self.kinds.get(receiver, [CONSOLE])
        chosen = self.digests.get(receiver)
        return [f"{receiver}/{kind}" for kind in kinds if chosen is None or kind in chosen]

    def receivers(self, teams: Collection[str]) -> list[str]:
        return sorted({self.receiver(team) for team in teams})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One (target, key) to claim and send, with the payload that renders it."""

    target: str
    key: DeliveryKey
    summary: str
    payload: Payload

    @property
    def thread(self) -> str | None:
        """The conversation a notice belongs to (``message.thread_key``); None for a digest."""
        return self.payload.notice.thread or None if isinstance(self.payload, NoticePayload) else None


def repeat_period(first_seen: datetime, now: datetime, repeat_days: int) -> int:
    """How many whole repeat intervals have passed since a finding was first seen."""
    return max(0, (now - first_seen).days // repeat_days)


def fired_keys(state: FindingState, repeat_days: int) -> list[DeliveryKey]:
    """Every key a finding could have fired under: its first notice, then each repeat until it ended.

    An ack can hold back the first notice, so a repeat may be the only one delivered.
    """
    periods = repeat_period(state.first_seen_at, state.resolved_at or state.first_seen_at, repeat_days)
    base = state.delivery_key
    return [base, *(base.repeat(n) for n in range(1, periods + 1))]


def firing(
    findings: Sequence[Finding],
    *,
    router: Router,
    first_seen: Mapping[str, datetime],
    now: datetime,
    repeat_days: int,
    muted: Collection[str],
    episodes: Mapping[str, int] | None = None,
    reports: Mapping[str, DeploymentReport] | None = None,
    public_url: str | None = None,
) -> list[Outgoing]:
    """Every (target, key) the current findings call for; acked (muted) findings are skipped.

    ``reports`` (deployment name -> its report) lets each notice carry the deployment's state,
    end of maintenance, target and plan as every other surface prints them; ``public_url`` the
    link to its dashboard page."""
    result: list[Outgoing] = []
    for finding in findings:
        if finding.dedup_key in muted:
            continue
        period = 0
        if finding.severity.value == "critical":
            period = repeat_period(first_seen.get(finding.dedup_key, now), now, repeat_days)
        episode = (episodes or {}).get(finding.dedup_key, 0)
        key = DeliveryKey.episode(finding.dedup_key, episode).repeat(period)
        notice = Notice.of(
            finding,
            repeat=period,
            report=(reports or {}).get(finding.deployment),
            url=deployment_url(public_url, finding.deployment),
            thread=thread_key(finding.kind.value, finding.dedup_key, episode),
        )
        result += [
            Outgoing(target, key, finding.summary, NoticePayload(notice))
            for target in router.targets(finding.team, finding.kind.value)
        ]
    return result


def resolved_notices(
    states: Sequence[FindingState],
    *,
    router: Router,
    reports: Mapping[str, DeploymentReport] | None = None,
    public_url: str | None = None,
) -> list[tuple[str, str, Outgoing]]:
    """Candidate "resolved" notices as (target, dedup key, outgoing); send where it fired.

    A deployment still tracked (in ``reports``) is shown as it stands now."""
    result: list[tuple[str, str, Outgoing]] = []
    for state in states:
        notice = replace(
            Notice.from_payload(state.payload),
            status="resolved",
            repeat=0,
            thread=thread_key(state.kind, state.dedup_key, state.episode),
        )
        report = (reports or {}).get(state.deployment)
        if report is not None:
            notice = notice.with_report(report, deployment_url(public_url, state.deployment))
        for target in router.targets(state.team, state.kind):
            outgoing = Outgoing(
                target,
                state.delivery_key.resolved(),
                f"resolved: {notice.summary}",
                NoticePayload(notice),
            )
            result.append((target, state.dedup_key, outgoing))
    return result
