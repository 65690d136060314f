"""What is due, for whom — pure: routing, mutes (acks), repeat keys and "resolved" notices.

Delivery keys: a finding's ``dedup_key`` already names its facts (each reminder rung, each new
release gives a new key), so each is sent once. A critical finding is re-sent every
``repeat_interval_days`` while it stays open: period N after it was first seen gets the key
``<dedup_key>:repeat-N``. A finding that disappears, and was not merely replaced by another of
its family on the same deployment (rung 30 -> rung 14 -> end of maintenance), gets one
``resolved:<dedup_key>`` notice wherever its first notice (or a repeat) was delivered.
A finding that comes back after it was resolved starts a new episode: its keys carry
``:episode-N`` (``<dedup_key>:episode-N``, ``...:repeat-M``, ``resolved:...``), so the return,
its repeats and its second resolution are announced too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportwatch.checks import DeploymentReport
from supportwatch.config import ReceiverSettings, Settings
from supportwatch.notify.message import Notice
from supportwatch.values import Finding, FindingState

CONSOLE = "console"
_FAMILIES = {"maintenance_ending": "maintenance", "end_of_maintenance": "maintenance"}


def family(kind: str) -> str:
    """Kinds that replace one another as time passes share a family."""
    return _FAMILIES.get(kind, kind)


def integration_kinds(receiver: ReceiverSettings | None) -> list[str]:
    """The integrations of a receiver, in send order; the built-in console has one."""
    if receiver is None:
        return [CONSOLE]
    return [kind for kind, part in (("slack", receiver.slack), ("email", receiver.email)) if part is not None]


@dataclass(frozen=True, slots=True)
class Router:
    """Team -> receiver (first matching route, else ``default_receiver``) -> targets."""

    routes: Mapping[str, str]
    default: str
    kinds: Mapping[str, Sequence[str]]

    @classmethod
    def of(cls, settings: Settings) -> Router:
        routes: dict[str, str] = {}
        for route in settings.routes:
            routes.setdefault(route.match.team, route.receiver)
        kinds = {CONSOLE: [CONSOLE]} | {r.name: integration_kinds(r) for r in settings.receivers}
        return cls(routes, settings.default_receiver, kinds)

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
    key: str
    summary: str
    payload: dict[str, Any]


def repeat_period(first_seen: datetime, now: datetime, repeat_days: int) -> int:
    """How many whole repeat intervals have passed since a finding was first seen."""
    return max(0, (now - first_seen).days // repeat_days)


def fired_keys(state: FindingState, repeat_days: int) -> list[str]:
    """Every key a finding could have fired under: its first notice, then each repeat until it ended.

    An ack can hold back the first notice, so a repeat may be the only one delivered.
    """
    periods = repeat_period(state.first_seen_at, state.resolved_at or state.first_seen_at, repeat_days)
    base = state.delivery_key
    return [base, *(f"{base}:repeat-{n}" for n in range(1, periods + 1))]


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
        base = finding.dedup_key if episode == 0 else f"{finding.dedup_key}:episode-{episode}"
        key = base if period == 0 else f"{base}:repeat-{period}"
        notice = Notice.of(finding, repeat=period, report=(reports or {}).get(finding.deployment))
        result += [
            Outgoing(target, key, finding.summary, {"notice": notice.to_payload()})
            for target in router.targets(finding.team)
        ]
    return result


def resolved(states: Sequence[FindingState], *, router: Router) -> list[tuple[str, str, Outgoing]]:
    """Candidate "resolved" notices as (target, firing key, outgoing); send where it fired."""
    result: list[tuple[str, str, Outgoing]] = []
    for state in states:
        notice = Notice.from_payload(state.payload)
        notice = Notice(**{**_fields(notice), "status": "resolved", "repeat": 0})
        for target in router.targets(state.team):
            outgoing = Outgoing(
                target,
                f"resolved:{state.delivery_key}",
                f"resolved: {notice.summary}",
                {"notice": notice.to_payload()},
            )
            result.append((target, state.dedup_key, outgoing))
    return result


def _fields(notice: Notice) -> dict[str, Any]:
    return {name: getattr(notice, name) for name in Notice.__slots__}
