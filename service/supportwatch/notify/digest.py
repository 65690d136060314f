"""The weekly digest's content and schedule — pure.

A digest is keyed by the ISO week of its scheduled moment (``DeliveryKey.digest("2026-W47")``)
in the delivery log, so each receiver gets one per week, delivered at least once. The week due
at ``now`` is the one whose scheduled moment (weekday and hour in the configured time zone) is
the latest at or before ``now``: a service that was down at that moment sends it late, on its
next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from supportwatch.checks import DeploymentReport
from supportwatch.report import end_text, target_text
from supportwatch.values import Finding, Release
from supportwatch.wording import count, until

STATES = ("unmaintained", "behind", "unknown", "current")  # the loudest first
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class DeploymentLine:
    """One routed deployment's standing in a digest."""

    name: str
    team: str
    state: str
    agent_version: str | None
    end_of_maintenance: str | None
    days_left: int | None
    findings: int
    worst: str | None
    # the one view's texts (report.end_text, the target); empty in digests stored before them
    end: str = ""
    target: str = ""
    url: str = ""  # the deployment's dashboard page, when web.public_url is set


@dataclass(frozen=True, slots=True)
class Digest:
    """What one receiver's weekly digest says; every field is JSON-friendly."""

    receiver: str
    week: str
    since: str | None
    deployments: tuple[DeploymentLine, ...] = ()
    new_releases: tuple[str, ...] = ()
    state_changes: tuple[str, ...] = ()
    new_findings: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    upcoming: tuple[str, ...] = ()
    health: tuple[str, ...] = ()
    horizon_days: int = 90

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        for line in data["deployments"]:
            if not line["url"]:
                del line["url"]  # written only when set, like rows stored before it existed
        return data

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Digest:
        lists = {name: tuple(data.get(name, ())) for name in _LIST_FIELDS}
        return cls(
            receiver=data["receiver"],
            week=data["week"],
            since=data.get("since"),
            deployments=tuple(DeploymentLine(**item) for item in data.get("deployments", ())),
            horizon_days=int(data.get("horizon_days", 90)),
            **lists,
        )

    def states(self) -> dict[str, str]:
        """Deployment name -> state, what the next digest compares against."""
        return {line.name: line.state for line in self.deployments}


_LIST_FIELDS = ("new_releases", "state_changes", "new_findings", "resolved", "upcoming", "health")


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def scheduled_moment(day: date, *, weekday: str, hour: int, tz: tzinfo) -> datetime:
    """The digest moment (aware UTC) of the ISO week that contains ``day``."""
    monday = day - timedelta(days=day.weekday())
    local = datetime.combine(monday + timedelta(days=WEEKDAYS.index(weekday)), time(hour), tzinfo=tz)
    return local.astimezone(UTC)


def due_week(now: datetime, *, weekday: str, hour: int, tz: tzinfo) -> str:
    """The ISO week whose scheduled digest moment is the latest at or before ``now``."""
    today = now.astimezone(tz).date()
    if now >= scheduled_moment(today, weekday=weekday, hour=hour, tz=tz):
        return iso_week(today)
    return iso_week(today - timedelta(days=7))


@dataclass(frozen=True, slots=True)
class DigestInputs:
    """What the service gathers for one receiver's digest.

    A deployment on the open newest minor has no end of maintenance yet, so "upcoming" leaves
    it out.
    """

    receiver: str
    week: str
    today: date
    reports: Sequence[DeploymentReport]
    since: datetime | None = None
    previous_states: Mapping[str, str] = field(default_factory=dict)
    new_releases: Sequence[Release] = ()
    opened: Sequence[str] = ()
    resolved: Sequence[str] = ()
    health: Sequence[Finding] = ()
    extra_health: Sequence[str] = ()
    horizon_days: int = 90
    urls: Mapping[str, str] = field(default_factory=dict)  # deployment name -> dashboard page


def build_digest(inputs: DigestInputs) -> Digest:
    """The digest content: states, changes since the last digest, upcoming ends, data health."""
    lines = tuple(_line(report, inputs.today, inputs.urls) for report in _loudest_first(inputs.reports))
    return Digest(
        receiver=inputs.receiver,
        week=inputs.week,
        since=inputs.since.isoformat() if inputs.since else None,
        deployments=lines,
        new_releases=tuple(_release(item) for item in _newest_first(inputs.new_releases)),
        state_changes=tuple(_changes(lines, inputs.previous_states)),
        new_findings=tuple(inputs.opened),
        resolved=tuple(inputs.resolved),
        upcoming=tuple(_upcoming(lines, inputs.horizon_days)),
        health=(*(f"{f.kind.value}: {f.summary}" for f in inputs.health), *inputs.extra_health),
        horizon_days=inputs.horizon_days,
    )


def _loudest_first(reports: Sequence[DeploymentReport]) -> list[DeploymentReport]:
    """Unmaintained, behind, unknown, then current; the worst finding first within a state."""

    def key(report: DeploymentReport) -> tuple[int, int, str]:
        state = report.state.value
        rank = STATES.index(state) if state in STATES else len(STATES)
        worst = report.worst_severity
        return (rank, -(worst.rank if worst else 0), report.deployment.name)

    return sorted(reports, key=key)


def _line(report: DeploymentReport, today: date, urls: Mapping[str, str]) -> DeploymentLine:
    eom = report.end_of_maintenance
    worst = report.worst_severity
    return DeploymentLine(
        name=report.deployment.name,
        team=report.deployment.team,
        state=report.state.value,
        agent_version=str(report.agent_version) if report.agent_version else None,
        end_of_maintenance=eom.isoformat() if eom else None,
        days_left=(eom - today).days if eom else None,
        findings=len(report.findings),
        worst=worst.value if worst else None,
        end=end_text(report),
        target=target_text(report),
        url=urls.get(report.deployment.name, ""),
    )


def _newest_first(releases: Iterable[Release]) -> list[Release]:
    return sorted(releases, key=lambda r: (r.released_on or date.min, r.component, r.version), reverse=True)


def _release(release: Release) -> str:
    when = f" (released {release.released_on.isoformat()})" if release.released_on else ""
    return f"{release.component} {release.version}{when}"


def _changes(lines: Sequence[DeploymentLine], previous: Mapping[str, str]) -> list[str]:
    changes = []
    for line in lines:
        before = previous.get(line.name)
        if before is None and previous:
            changes.append(f"{line.name}: newly tracked ({line.state})")
        elif before is not None and before != line.state:
            changes.append(f"{line.name}: {before} -> {line.state}")
    return changes


def _upcoming(lines: Sequence[DeploymentLine], horizon: int) -> list[str]:
    due = [line for line in lines if line.days_left is not None and 0 < line.days_left <= horizon]
    return [
        f"{line.name}: agent {line.agent_version} leaves maintenance on {line.end_of_maintenance} "
        f"({until(line.days_left or 0)})"
        for line in sorted(due, key=lambda item: (item.days_left or 0, item.name))
    ]


def digest_summary(digest: Digest) -> str:
    """``12 deployments: 3 current, 6 behind, 2 unmaintained, 1 unknown; 4 with critical findings``."""
    states = Counter(line.state for line in digest.deployments)
    known = [f"{states[state]} {state}" for state in reversed(STATES) if states[state]]
    known += [f"{number} {state}" for state, number in sorted(states.items()) if state not in STATES]
    critical = sum(line.worst == "critical" for line in digest.deployments)
    warning = sum(line.worst == "warning" for line in digest.deployments)
    text = f"{count(len(digest.deployments), 'deployment')}: {', '.join(known) or 'none routed'}"
    return f"{text}; {critical} with critical findings, {warning} with warnings at worst"


def end_phrase(line: DeploymentLine) -> str:
    """``end of maintenance 2026-07-28 (in 29 days)``, or "" when it is unknown."""
    end = line.end or line.end_of_maintenance
    when = f" ({until(line.days_left)})" if line.days_left is not None and line.end_of_maintenance else ""
    return f"end of maintenance {end}{when}" if end else ""


def digest_lines(digest: Digest) -> list[str]:
    """The digest as plain-text lines; the first is the title."""
    lines = [f"supportwatch weekly digest {digest.week} for {digest.receiver}", ""]
    lines += [f"Summary: {digest_summary(digest)}", "", "Deployments:"]
    lines += [text for d in digest.deployments for text in _deployment_lines(d)] or [
        "- none routed to this receiver"
    ]
    since = f" (since {digest.since[:10]})" if digest.since else ""
    for title, items in (
        (f"New releases{since}", digest.new_releases),
        ("State changes", digest.state_changes),
        ("New findings", digest.new_findings),
        ("Resolved", digest.resolved),
        (f"Ends of maintenance in the next {digest.horizon_days} days", digest.upcoming),
        ("Data health", digest.health),
    ):
        lines += ["", f"{title}:", *([f"- {item}" for item in items] or ["- none"])]
    return lines


def _deployment_lines(d: DeploymentLine) -> list[str]:
    state = f"{d.state} ({d.worst})" if d.worst else d.state
    end = end_phrase(d)
    text = f"- {d.name} ({d.team}): {state}, agent {d.agent_version or 'unknown'}"
    text += f", {end}" if end else ""
    text += f", {d.findings} finding{'s' if d.findings != 1 else ''}" if d.findings else ", no findings"
    text += f"; target: {d.target}" if d.target else ""
    return [text, *([f"  {d.url}"] if d.url else [])]
