"""What is due, for whom — pure: routing, mutes (acks), repeat keys and "resolved" notices.

Delivery keys (``log.DeliveryKey``): a finding's ``dedup_key`` already names its facts (each
reminder rung, each new release gives a new key), so each is sent once. A critical finding is
re-sent every ``repeat_days`` while it stays open: period N after it was first seen is its
N-th repeat. A finding that disappears, and was not merely replaced by another of its family
on the same deployment (rung 30 -> rung 14 -> end of maintenance), gets one "resolved" notice
wherever its first notice (or a repeat) was delivered. A finding that comes back after it was
resolved starts a new episode (``episodes.py``) with keys of its own, so the return, its
repeats and its second resolution are announced too.

Everything here takes plain values: the caller turns the settings into ``Route`` values and
receiver kinds (``wiring.router``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from supportwatch.checks import DeploymentReport
from supportwatch.notify.episodes import FindingState
from supportwatch.notify.log import DeliveryKey
from supportwatch.notify.message import Notice
from supportwatch.notify.payload import NoticePayload, Payload
from supportwatch.values import Finding

CONSOLE = "console"
_FAMILIES = {"maintenance_ending": "maintenance", "end_of_maintenance": "maintenance"}


def family(kind: str) -> str:
    """Kinds that replace one another as time passes share a family."""
    return _FAMILIES.get(kind, kind)


@dataclass(frozen=True, slots=True)
class Route:
    """Findings of ``team`` go to ``receiver``."""

    team: str
    receiver: str


@dataclass(frozen=True, slots=True)
class Router:
    """Team -> receiver (first matching route, else ``default``) -> targets (``receiver/kind``)."""

    routes: Mapping[str, str]
    default: str
    kinds: Mapping[str, Sequence[str]]

    @classmethod
    def of(cls, routes: Sequence[Route], *, receivers: Mapping[str, Sequence[str]], default: str) -> Router:
        """``receivers``: each configured receiver's integration kinds, in send order; the
        built-in ``console`` receiver is always there."""
        table: dict[str, str] = {}
        for route in routes:
            table.setdefault(route.team, route.receiver)
        kinds = {CONSOLE: [CONSOLE]} | {name: list(items) for name, items in receivers.items()}
        return cls(table, default, kinds)

    def receiver(self, team: str) -> str:
        return self.routes.get(team, self.default)

    def targets(self, team: str) -> list[str]:
        receiver = self.receiver(team)
        return [f"{receiver}/{kind}" for kind in self.kinds.get(receiver, [CONSOLE])]

    def digest_target(self, receiver: str) -> str:
        """Digests go by email, else Slack, else the console."""
        kinds = self.kinds.get(receiver, [CONSOLE])
        kind = next((k for k in ("email", "slack", CONSOLE) if k in kinds), kinds[0])
        return f"{receiver}/{kind}"

    def receivers(self, teams: Collection[str]) -> list[str]:
        return sorted({self.receiver(team) for team in teams})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One (target, key) to claim and send, with the payload that renders it."""

    target: str
    key: DeliveryKey
    summary: str
    payload: Payload


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
) -> list[Outgoing]:
    """Every (target, key) the current findings call for; acked (muted) findings are skipped.

    ``reports`` (deployment name -> its report) lets each notice carry the deployment's state
    and end of maintenance as every other surface prints them."""
    result: list[Outgoing] = []
    for finding in findings:
        if finding.dedup_key in muted:
            continue
        period = 0
        if finding.severity.value == "critical":
            period = repeat_period(first_seen.get(finding.dedup_key, now), now, repeat_days)
        episode = (episodes or {}).get(finding.dedup_key, 0)
        key = DeliveryKey.episode(finding.dedup_key, episode).repeat(period)
        notice = Notice.of(finding, repeat=period, report=(reports or {}).get(finding.deployment))
        result += [
            Outgoing(target, key, finding.summary, NoticePayload(notice))
            for target in router.targets(finding.team)
        ]
    return result


def resolved_notices(states: Sequence[FindingState], *, router: Router) -> list[tuple[str, str, Outgoing]]:
    """Candidate "resolved" notices as (target, dedup key, outgoing); send where it fired."""
    result: list[tuple[str, str, Outgoing]] = []
    for state in states:
        notice = replace(Notice.from_payload(state.payload), status="resolved", repeat=0)
        for target in router.targets(state.team):
            outgoing = Outgoing(
                target,
                state.delivery_key.resolved(),
                f"resolved: {notice.summary}",
                NoticePayload(notice),
            )
            result.append((target, state.dedup_key, outgoing))
    return result
