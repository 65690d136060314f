"""How a message's notices are grouped for people — pure; every rendering (text, Slack, email) uses it.

Notices are grouped by deployment, the loudest deployment first and, within one, the loudest
notice first (resolutions last); each group carries the deployment's state, end of maintenance,
target and plan once. Facts that concern the fleet (a new agent major, a new chart: ``FLEET_KINDS``)
are said once, listing the deployments they concern, when more than one deployment shares them.
Data-health notices (a stale source, conflicting dates) come first: they concern every
deployment's verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from supportwatch.notify.message import FLEET_KINDS, Notice, Overview, Status, label

# a fleet fact is said once when at least this many deployments share it
FLEET_MINIMUM = 2


@dataclass(frozen=True, slots=True)
class FleetFact:
    """One fact shared by several deployments, said once: ``headline`` and the fix they share."""

    status: Status
    kind: str
    severity: str
    headline: str
    remedy: str  # the fix every notice names, or "" when they differ (each deployment has its own)
    notices: tuple[Notice, ...]

    @property
    def names(self) -> list[str]:
        return sorted({notice.deployment for notice in self.notices})

    @property
    def rank(self) -> int:
        return max(notice.rank for notice in self.notices)


@dataclass(frozen=True, slots=True)
class DeploymentGroup:
    """One deployment's notices in a message, and its view: state, end, target, plan, page."""

    name: str
    team: str
    notices: tuple[Notice, ...]  # loudest first, resolutions last
    state: str | None
    when: str
    target: str | None
    plan: tuple[str, ...]
    url: str | None
    fix: str  # the remedy most of its firing notices name: said once for the group

    @property
    def rank(self) -> int:
        return max(notice.rank for notice in self.notices)

    @property
    def worst(self) -> str:
        """The loudest firing severity, or "resolved"."""
        firing = [n for n in self.notices if n.status == "firing"]
        return max(firing, key=lambda n: n.rank).severity if firing else "resolved"

    def own_fix(self, notice: Notice) -> str | None:
        """The notice's remedy when it is not the group's ``fix`` (resolutions have none)."""
        if notice.status != "firing" or not notice.remedy or notice.remedy == self.fix:
            return None
        return notice.remedy


@dataclass(frozen=True, slots=True)
class Layout:
    overview: Overview
    health: tuple[Notice, ...]
    fleet: tuple[FleetFact, ...]
    deployments: tuple[DeploymentGroup, ...]


def layout(notices: Sequence[Notice]) -> Layout:
    """Group ``notices`` (any order) as every rendering shows them."""
    health = _loudest_first([n for n in notices if n.is_health])
    others = [n for n in notices if not n.is_health]
    shared: dict[tuple[str, str, str], list[Notice]] = {}
    for notice in others:
        if notice.kind in FLEET_KINDS:
            shared.setdefault(_fleet_key(notice), []).append(notice)
    fleet: list[FleetFact] = []
    in_fleet: set[int] = set()
    for key, items in shared.items():
        if len({n.deployment for n in items}) >= FLEET_MINIMUM:
            fleet.append(_fact(key, items))
            in_fleet.update(id(n) for n in items)
    by_name: dict[str, list[Notice]] = {}
    for notice in others:
        if id(notice) not in in_fleet:
            by_name.setdefault(notice.deployment, []).append(notice)
    groups = [_group(name, items) for name, items in by_name.items()]
    return Layout(
        overview=Overview.of(notices),
        health=tuple(health),
        fleet=tuple(sorted(fleet, key=lambda f: (-f.rank, f.status, f.headline))),
        deployments=tuple(sorted(groups, key=lambda g: (-g.rank, g.name))),
    )


def _loudest_first(notices: Sequence[Notice]) -> list[Notice]:
    return sorted(notices, key=lambda n: -n.rank)  # stable: the checks' order within a severity


def _fleet_key(notice: Notice) -> tuple[str, str, str]:
    # the subject names the move: "agent-1->2.0.0", "chart-2.0.0->2.1.0", "chart-1.5.0->2.x"
    _, arrow, version = notice.subject.rpartition("->")
    return (notice.status, notice.kind, version if arrow else "")


def _fact(key: tuple[str, str, str], items: list[Notice]) -> FleetFact:
    status, kind, version = key
    remedies = {n.remedy for n in items}
    loudest = max(items, key=lambda n: n.rank)
    return FleetFact(
        status="resolved" if status == "resolved" else "firing",
        kind=kind,
        severity=loudest.severity,
        headline=headline(kind, version, resolved=status == "resolved"),
        remedy=remedies.pop() if len(remedies) == 1 and status == "firing" else "",
        notices=tuple(sorted(items, key=lambda n: n.deployment)),
    )


def headline(kind: str, version: str, *, resolved: bool = False) -> str:
    """What a fleet fact says: "Agent major 2 is available (2.0.0)", "Chart 2.1.0 is the newest"."""
    if kind == "new_major_available" and version:
        text = f"Agent major {version.split('.', maxsplit=1)[0]} is available ({version})"
    elif kind == "chart_behind_latest" and version:
        text = f"Chart {version} is the newest chart"
    elif kind == "chart_breaking_upgrade" and version:
        text = f"Chart {version} is a breaking upgrade"
    else:
        text = label(kind)
    return f"Resolved: {label(kind)}" if resolved else text


def _group(name: str, items: list[Notice]) -> DeploymentGroup:
    ordered = [*_loudest_first([n for n in items if n.status == "firing"])]
    ordered += [n for n in items if n.status != "firing"]
    # the view comes from the newest facts: a firing notice's, else a resolution's (refreshed)
    view = next((n for n in ordered if n.state is not None), ordered[0])
    remedies = Counter(n.remedy for n in ordered if n.status == "firing" and n.remedy)
    fix = remedies.most_common(1)[0][0] if remedies else ""
    return DeploymentGroup(
        name=name,
        team=view.team,
        notices=tuple(ordered),
        state=view.state,
        when=view.when,
        target=view.target,
        plan=view.plan,
        url=next((n.url for n in ordered if n.url), None),
        fix=fix,
    )
