"""The checks: one small function per finding kind, and ``evaluate`` — pure, ``now`` passed in.

Each check takes a ``Subject`` (one deployment plus what is derived from it) and returns a
``Finding`` or None. ``CHECKS`` lists them explicitly; ``evaluate`` runs them all and derives
each deployment's support state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from supportwatch.catalog import Catalog
from supportwatch.compatibility import Rules, agents_for, chart_admits, incompatible
from supportwatch.models import Deployment, Finding, FindingKind, Release, Severity
from supportwatch.policy import (
    MaintenancePolicy,
    MinorWindow,
    SupportState,
    is_unmaintained,
    reminder_rung,
)
from supportwatch.remedy import agent_remedy, best_tag, tag_reference
from supportwatch.versions import AgentVersion, ImageTag, RuntimeVersion, minor_label

SEVERITY: dict[FindingKind, Severity] = {
    FindingKind.END_OF_MAINTENANCE: Severity.CRITICAL,
    FindingKind.MAINTENANCE_ENDING: Severity.WARNING,
    FindingKind.BEHIND_LATEST_PATCH: Severity.WARNING,
    FindingKind.BEHIND_LATEST_MINOR: Severity.WARNING,
    FindingKind.NEW_MAJOR_AVAILABLE: Severity.INFO,
    FindingKind.CHART_INCOMPATIBLE: Severity.CRITICAL,
    FindingKind.CHART_BREAKING_UPGRADE: Severity.INFO,
    FindingKind.CHART_BEHIND_LATEST: Severity.WARNING,
    FindingKind.RUNTIME_SKEW: Severity.CRITICAL,
    FindingKind.KNOWN_INCOMPATIBILITY: Severity.CRITICAL,
    FindingKind.FLOATING_TAG: Severity.WARNING,
    FindingKind.UNKNOWN_VERSION: Severity.WARNING,
    FindingKind.UNSUPPORTED_PLATFORM: Severity.CRITICAL,
    FindingKind.YANKED_VERSION: Severity.CRITICAL,
    FindingKind.SOURCE_STALE: Severity.WARNING,
    FindingKind.DATE_CONFLICT: Severity.WARNING,
}


@dataclass(frozen=True, slots=True)
class Subject:
    """One deployment and the facts every check needs about it."""

    deployment: Deployment
    catalog: Catalog
    rules: Rules
    tag: ImageTag | None
    agent: AgentVersion | None
    window: MinorWindow | None
    unmaintained: bool

    @property
    def name(self) -> str:
        return self.deployment.name

    @property
    def policy(self) -> MaintenancePolicy:
        return self.catalog.policy

    @property
    def today(self) -> date:
        return self.catalog.today

    def finding(self, kind: FindingKind, facts: str, summary: str, remedy: str) -> Finding:
        return Finding(
            kind=kind,
            severity=SEVERITY[kind],
            deployment=self.name,
            team=self.deployment.team,
            subject=facts,
            dedup_key=f"{kind.value}:{self.name}:{facts}",
            summary=summary,
            remedy=remedy,
            end_of_maintenance=self.window.end_of_maintenance if self.window else None,
            days_left=self.window.days_left(self.today) if self.window else None,
        )

    def remedy(self, target: AgentVersion | None, *, like: ImageTag | None = None) -> str:
        return agent_remedy(self.deployment, self.catalog, self.rules, target, like=like)


def make_subject(deployment: Deployment, catalog: Catalog, rules: Rules) -> Subject:
    tag = deployment.image.tag
    agent = tag.agent if tag is not None else None
    window = catalog.window(agent) if agent is not None and agent in catalog.agents else None
    unmaintained = False
    if window is not None and agent is not None:
        newest = catalog.newest_minor(agent.major) == agent.minor_key
        unmaintained = is_unmaintained(window, newest_minor=newest, policy=catalog.policy, day=catalog.today)
    return Subject(deployment, catalog, rules, tag, agent, window, unmaintained)


# --- maintenance ------------------------------------------------------------------------


def check_end_of_maintenance(s: Subject) -> Finding | None:
    if s.agent is None or s.window is None or not s.unmaintained:
        return None
    ended = s.window.end_of_maintenance
    return s.finding(
        FindingKind.END_OF_MAINTENANCE,
        f"agent-{minor_label(s.agent.minor_key)}",
        f"{s.name} runs agent {s.agent}; agent {minor_label(s.agent.minor_key)} left maintenance on "
        f"{ended.isoformat()} ({-s.window.days_left(s.today)} days ago){_estimated(s.window)}",
        s.remedy(s.catalog.newest_agent(major=s.agent.major)),
    )


def check_maintenance_ending(s: Subject) -> Finding | None:
    if s.agent is None or s.window is None or s.unmaintained:
        return None
    if s.catalog.open_ended(s.agent.minor_key):
        return None
    left = s.window.days_left(s.today)
    rung = reminder_rung(left, s.policy.reminder_days)
    if rung is None:
        return None
    return s.finding(
        FindingKind.MAINTENANCE_ENDING,
        f"agent-{minor_label(s.agent.minor_key)}:rung-{rung}",
        f"{s.name} runs agent {s.agent}; agent {minor_label(s.agent.minor_key)} leaves maintenance on "
        f"{s.window.end_of_maintenance.isoformat()} (in {left} days){_estimated(s.window)}",
        s.remedy(s.catalog.newest_agent(major=s.agent.major)),
    )


def _estimated(window: MinorWindow) -> str:
    return "; estimated: the .0 release date is unknown" if window.estimated else ""


# --- behind latest ----------------------------------------------------------------------


def check_behind_latest_patch(s: Subject) -> Finding | None:
    if s.agent is None or s.agent not in s.catalog.agents or s.unmaintained:
        return None
    grace = s.policy.behind_grace_days
    target = s.catalog.newest_agent(major=s.agent.major, minor=s.agent.minor, grace_days=grace)
    if target is None or target <= s.agent:
        return None
    return s.finding(
        FindingKind.BEHIND_LATEST_PATCH,
        f"agent-{s.agent}->{target}",
        f"{s.name} runs agent {s.agent}; agent {target} has the latest fixes for "
        f"{minor_label(s.agent.minor_key)}",
        s.remedy(target),
    )


def check_behind_latest_minor(s: Subject) -> Finding | None:
    if s.agent is None or s.agent not in s.catalog.agents or s.unmaintained:
        return None
    target = s.catalog.newest_agent(major=s.agent.major, grace_days=s.policy.behind_grace_days)
    if target is None or target.minor_key <= s.agent.minor_key:
        return None
    return s.finding(
        FindingKind.BEHIND_LATEST_MINOR,
        f"agent-{s.agent}->{target}",
        f"{s.name} runs agent {s.agent}; agent {minor_label(target.minor_key)} is the latest minor "
        f"and the only one that gets bug fixes (older minors: critical CVE fixes only)",
        s.remedy(target),
    )


def check_new_major_available(s: Subject) -> Finding | None:
    if s.agent is None or s.agent not in s.catalog.agents:
        return None
    target = s.catalog.newest_agent(grace_days=s.policy.behind_grace_days)
    if target is None or target.major <= s.agent.major:
        return None
    return s.finding(
        FindingKind.NEW_MAJOR_AVAILABLE,
        f"agent-{s.agent.major}->{target}",
        f"{s.name} runs agent {s.agent}; agent major {target.major} is available ({target})",
        s.remedy(target) + "; read the release notes: a new major may break",
    )


# --- chart ------------------------------------------------------------------------------


def check_chart_incompatible(s: Subject) -> Finding | None:
    chart = s.deployment.chart_version
    if chart is None or s.agent is None or chart_admits(s.rules, chart, s.agent) is not False:
        return None
    fitting = s.catalog.newest_chart_admitting(s.rules, s.agent)
    if fitting is not None:
        remedy = f"Upgrade the chart to {fitting}, which supports agent {s.agent}"
    else:
        remedy = f"Run an agent that chart {chart} supports ({', '.join(agents_for(s.rules, chart))})"
    return s.finding(
        FindingKind.CHART_INCOMPATIBLE,
        f"chart-{chart}:agent-{s.agent}",
        f"{s.name} runs agent {s.agent} with chart {chart}; the compatibility matrix does not allow it",
        remedy,
    )


def check_chart_breaking_upgrade(s: Subject) -> Finding | None:
    chart = s.deployment.chart_version
    newest = s.catalog.newest_chart()
    if chart is None or newest is None:
        return None
    crossing = [u for u in s.rules.chart_upgrades if chart < u.to <= newest and chart.major < u.to.major]
    if not crossing:
        return None
    upgrade = min(crossing, key=lambda u: u.to)
    steps = "; ".join(f"{index}. {step}" for index, step in enumerate(upgrade.steps, start=1))
    return s.finding(
        FindingKind.CHART_BREAKING_UPGRADE,
        f"chart-{chart}->{upgrade.to.major}.x",
        f"{s.name} is on chart {chart}; chart {upgrade.to.major}.x is a breaking upgrade (newest: {newest})",
        f"To upgrade to chart {newest}: {steps}",
    )


def check_chart_behind_latest(s: Subject) -> Finding | None:
    chart = s.deployment.chart_version
    newest = s.catalog.newest_chart()
    if chart is None or newest is None or newest <= chart:
        return None
    app = s.catalog.charts[newest].app_version
    ships = f" (ships agent {app} by default)" if app else ""
    breaking = " — a breaking upgrade, see chart_breaking_upgrade" if newest.major > chart.major else ""
    return s.finding(
        FindingKind.CHART_BEHIND_LATEST,
        f"chart-{chart}->{newest}",
        f"{s.name} is on chart {chart}; chart {newest} is the newest",
        f"Upgrade the chart to {newest}{ships}{breaking}",
    )


# --- runtime and platform ---------------------------------------------------------------


def check_runtime_skew(s: Subject) -> Finding | None:
    orchestration = s.deployment.orchestration_runtime
    if s.tag is None or orchestration is None or s.tag.runtime <= orchestration:
        return None
    return s.finding(
        FindingKind.RUNTIME_SKEW,
        f"runtime-{s.tag.runtime}>{orchestration}",
        f"{s.name} runs Runtime {s.tag.runtime} on the execution plane, newer than the orchestration "
        f"plane's {orchestration}",
        _runtime_remedy(s, orchestration, exclude=None),
    )


def _runtime_remedy(s: Subject, ceiling: RuntimeVersion, exclude: RuntimeVersion | None) -> str:
    tag = _runtime_fit(s, ceiling, exclude) if s.tag is not None else None
    if tag is not None:
        return f"Use {tag_reference(s.deployment, tag)} (Runtime {tag.runtime} <= {ceiling})"
    return f"Use an agent image whose Runtime is at most {ceiling}, or upgrade the orchestration plane"


def _runtime_fit(s: Subject, ceiling: RuntimeVersion, exclude: RuntimeVersion | None) -> ImageTag | None:
    # the deployment's own agent first, then newer agents newest first: the smallest move that fits
    assert s.tag is not None
    key = ("runtime_fit", s.agent, s.tag.python, s.tag.base, ceiling, exclude)
    if key not in s.catalog.memo:
        found = None
        for target in _agents_to_try(s):
            candidates = [t for t in s.catalog.tags_of(target) if t.runtime != exclude]
            found = best_tag(candidates, python=s.tag.python, base=s.tag.base, max_runtime=ceiling)
            if found is not None:
                break
        s.catalog.memo[key] = found
    result: ImageTag | None = s.catalog.memo[key]
    return result


def _agents_to_try(s: Subject) -> list[AgentVersion]:
    newer = s.catalog.recommendable_agents(newer_than=s.agent)
    return ([s.agent] if s.agent in s.catalog.agents else []) + newer


def check_known_incompatibility(s: Subject) -> Finding | None:
    orchestration = s.deployment.orchestration_runtime
    if s.tag is None or orchestration is None:
        return None
    bad = incompatible(s.rules, s.tag.runtime, orchestration, s.agent)
    if bad is None:
        return None
    note = f": {bad.note}" if bad.note else ""
    return s.finding(
        FindingKind.KNOWN_INCOMPATIBILITY,
        f"runtime-{s.tag.runtime}+{orchestration}",
        f"{s.name}: execution Runtime {s.tag.runtime} with orchestration Runtime {orchestration} "
        f"is a known bad combination{note}",
        _runtime_remedy(s, orchestration, exclude=bad.execution_runtime),
    )


def check_unsupported_platform(s: Subject) -> Finding | None:
    platform = s.deployment.platform.strip().lower()
    if not (platform.startswith("rhel") or "red hat" in platform or "redhat" in platform):
        return None
    return s.finding(
        FindingKind.UNSUPPORTED_PLATFORM,
        f"platform-{platform}",
        f"{s.name} runs on {s.deployment.platform}; agent images are not compatible with RHEL",
        "Move the agent to nodes running a supported Linux distribution (not RHEL)",
    )


# --- what the tag says ------------------------------------------------------------------


def check_floating_tag(s: Subject) -> Finding | None:
    if s.tag is not None and s.tag.fixed:
        return None
    shown = str(s.tag) if s.tag is not None else f"@{s.deployment.image.digest}"
    pinned = (
        " (pinned by digest, but the agent version is still unknown)" if s.deployment.image.digest else ""
    )
    return s.finding(
        FindingKind.FLOATING_TAG,
        f"tag-{shown}",
        f"{s.name} uses the floating tag {shown}{pinned}: the running agent version is unknowable",
        "Pin a fixed tag. " + _pin_remedy(s),
    )


def _pin_remedy(s: Subject) -> str:
    tag = _pinned_equivalent(s)
    if tag is not None and tag.agent is not None:
        return f"Move to agent {tag.agent}: {tag_reference(s.deployment, tag)}"
    return s.remedy(s.catalog.newest_agent(), like=s.tag)


def _pinned_equivalent(s: Subject) -> ImageTag | None:
    # the fixed tag the floating one most likely resolves to now: same Runtime, Python and flavour
    if s.tag is None:
        return None
    key = ("pinned", s.tag)
    if key not in s.catalog.memo:
        s.catalog.memo[key] = next(
            (
                tag
                for target in _agents_to_try(s)
                for tag in sorted(s.catalog.tags_of(target), key=_python_of, reverse=True)
                if tag.runtime == s.tag.runtime
                and tag.base == s.tag.base
                and s.tag.python in (None, tag.python)
            ),
            None,
        )
    result: ImageTag | None = s.catalog.memo[key]
    return result


def _python_of(tag: ImageTag) -> tuple[int, int]:
    return (tag.python.major, tag.python.minor) if tag.python else (0, 0)


def check_unknown_version(s: Subject) -> Finding | None:
    unknown = _unknown_parts(s)
    if not unknown:
        return None
    return s.finding(
        FindingKind.UNKNOWN_VERSION,
        "+".join(unknown),
        f"{s.name} uses {', '.join(part.replace('-', ' ', 1) for part in unknown)}, which no source has seen",
        "Check the version for a typo, or run `supportwatch poll` to refresh the catalog",
    )


def _unknown_parts(s: Subject) -> list[str]:
    parts: list[str] = []
    if s.agent is not None and s.agent not in s.catalog.agents:
        parts.append(f"agent-{s.agent}")
    chart = s.deployment.chart_version
    if chart is not None and chart not in s.catalog.charts:
        parts.append(f"chart-{chart}")
    if s.catalog.runtimes:
        for runtime in (s.tag.runtime if s.tag else None, s.deployment.orchestration_runtime):
            if (
                runtime is not None
                and runtime not in s.catalog.runtimes
                and f"runtime-{runtime}" not in parts
            ):
                parts.append(f"runtime-{runtime}")
    return parts


def check_yanked_version(s: Subject) -> Finding | None:
    runtime = s.tag.runtime if s.tag is not None else None
    bad_agent = s.agent is not None and s.agent in s.catalog.yanked
    bad_runtime = runtime is not None and runtime in s.catalog.yanked
    if not (bad_agent or bad_runtime):
        return None
    pulled = ([f"agent-{s.agent}"] if bad_agent else []) + ([f"runtime-{runtime}"] if bad_runtime else [])
    if bad_agent and s.agent is not None:
        # the newest good patch of the same minor is the smallest move; else the newest of the major
        same_minor = s.catalog.newest_agent(major=s.agent.major, minor=s.agent.minor)
        remedy = s.remedy(same_minor or s.catalog.newest_agent(major=s.agent.major))
    else:
        ceiling = s.deployment.orchestration_runtime or runtime
        remedy = (
            _runtime_remedy(s, ceiling, exclude=runtime) if ceiling else "Use a Runtime that is not yanked"
        )
    return s.finding(
        FindingKind.YANKED_VERSION,
        "+".join(pulled),
        f"{s.name} runs {' and '.join(p.replace('-', ' ', 1) for p in pulled)}, which the vendor has yanked",
        remedy,
    )


Check = Callable[[Subject], Finding | None]

CHECKS: tuple[Check, ...] = (
    check_end_of_maintenance,
    check_maintenance_ending,
    check_behind_latest_patch,
    check_behind_latest_minor,
    check_new_major_available,
    check_chart_incompatible,
    check_chart_breaking_upgrade,
    check_chart_behind_latest,
    check_runtime_skew,
    check_known_incompatibility,
    check_floating_tag,
    check_unknown_version,
    check_unsupported_platform,
    check_yanked_version,
)


@dataclass(frozen=True, slots=True)
class DeploymentReport:
    """One deployment's standing and its findings, worst first."""

    deployment: Deployment
    state: SupportState
    agent_version: AgentVersion | None
    end_of_maintenance: date | None
    findings: tuple[Finding, ...]
    # on the newest minor while the policy keeps it maintained: end_of_maintenance is not yet due
    open_ended: bool = False


def support_state(s: Subject) -> SupportState:
    if s.agent is None or s.agent not in s.catalog.agents:
        return SupportState.UNKNOWN
    if s.unmaintained:
        return SupportState.UNMAINTAINED
    if s.agent in s.catalog.yanked:
        return SupportState.BEHIND  # maintained, but a pulled release is never the one to be on
    newest = s.catalog.newest_agent(major=s.agent.major, grace_days=s.policy.behind_grace_days)
    return SupportState.BEHIND if newest is not None and newest > s.agent else SupportState.CURRENT


def evaluate_one(deployment: Deployment, catalog: Catalog, rules: Rules) -> DeploymentReport:
    subject = make_subject(deployment, catalog, rules)
    findings = [finding for check in CHECKS if (finding := check(subject)) is not None]
    findings.sort(key=lambda f: (-f.severity.rank, f.kind.value))
    return DeploymentReport(
        deployment=deployment,
        state=support_state(subject),
        agent_version=subject.agent,
        end_of_maintenance=subject.window.end_of_maintenance if subject.window else None,
        findings=tuple(findings),
        open_ended=_open_ended(subject),
    )


def _open_ended(s: Subject) -> bool:
    return s.agent is not None and s.window is not None and s.catalog.open_ended(s.agent.minor_key)


def evaluate(
    deployments: Iterable[Deployment],
    releases: Iterable[Release],
    policy: MaintenancePolicy,
    *,
    rules: Rules,
    now: datetime,
    tz: tzinfo = UTC,
) -> list[DeploymentReport]:
    """Every deployment's report as of ``now`` (the day it is in ``tz``)."""
    catalog = Catalog.build(releases, policy=policy, today=evaluation_day(now, tz))
    return [evaluate_one(deployment, catalog, rules) for deployment in deployments]


def evaluation_day(now: datetime, tz: tzinfo = UTC) -> date:
    """The calendar day ``now`` falls on in the configured time zone."""
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}; pass an aware datetime")
    return now.astimezone(tz).date()


def worst(reports: Sequence[DeploymentReport]) -> Severity | None:
    """The most severe finding over all reports, or None if there are none."""
    severities = [finding.severity for report in reports for finding in report.findings]
    return max(severities, key=lambda sev: sev.rank) if severities else None
