"""The checks: one small function per finding kind, and ``evaluate`` — pure, ``now`` passed in.

Each check takes a ``Subject`` (one deployment plus what is derived from it) and returns a
``Finding`` or None. ``CHECKS`` lists them explicitly. ``evaluate_one`` runs them all, chooses
the deployment's one ``Target`` (``target.py``) and its ``plan`` (``upgrade.py``), and gives
every fixable finding the same remedy: the target. The result, ``DeploymentReport``, is the one
view every surface renders (table, JSON, API, dashboard, Slack, email, digest, calendar).

Policy readings (see ``catalog.py`` for 1-3):

4. A deployment on a pre-release or non-stable version is never ``current``: a
   ``prerelease_version`` warning names the stable version to move to.
5. A patch no source has seen, of a known minor, is judged by that minor's window:
   ``maintenance_ending`` / ``end_of_maintenance`` apply beside ``unknown_version``.
6. While the newest minor is open, its end of maintenance is None and ``open_ended`` says so;
   the nominal date stays in ``nominal_end_of_maintenance``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from supportwatch.catalog import Catalog, Maintenance
from supportwatch.compatibility import Rules, agents_for, chart_admits, incompatible
from supportwatch.policy import MaintenancePolicy, MinorWindow, SupportState, reminder_rung
from supportwatch.target import FIXABLE, STAY, Target, choose_target
from supportwatch.upgrade import Step, chart_step_text, plan_steps, target_remedy
from supportwatch.values import Deployment, Finding, FindingKind, Release, Severity
from supportwatch.versions import AgentVersion, ImageTag, minor_label
from supportwatch.wording import since, until

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
    FindingKind.PRERELEASE_VERSION: Severity.WARNING,
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
    maintenance: Maintenance | None
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

    @property
    def window(self) -> MinorWindow | None:
        return self.maintenance.window if self.maintenance is not None else None

    @property
    def known(self) -> bool:
        return self.agent is not None and self.agent in self.catalog.agents

    @property
    def unstable(self) -> bool:
        """A pre-release, or a release from a channel other than stable."""
        if self.agent is None:
            return False
        item = self.catalog.agents.get(self.agent)
        return self.agent.is_prerelease or (item is not None and item.channel != "stable")

    def finding(self, kind: FindingKind, facts: str, summary: str, remedy: str = "") -> Finding:
        """A finding; fixable kinds get their remedy from the target in ``evaluate_one``."""
        maintenance = self.maintenance
        return Finding(
            kind=kind,
            severity=SEVERITY[kind],
            deployment=self.name,
            team=self.deployment.team,
            subject=facts,
            dedup_key=f"{kind.value}:{self.name}:{facts}",
            summary=summary,
            remedy=remedy,
            end_of_maintenance=maintenance.ends_on if maintenance else None,
            days_left=maintenance.days_left(self.today) if maintenance else None,
        )


def make_subject(deployment: Deployment, catalog: Catalog, rules: Rules) -> Subject:
    tag = deployment.image.tag
    agent = tag.agent if tag is not None else None
    # a pre-release or beta is never maintained; an unseen patch of a known minor follows that minor
    item = catalog.agents.get(agent) if agent is not None else None
    unstable = agent is not None and (agent.is_prerelease or (item is not None and item.channel != "stable"))
    maintenance = catalog.maintenance(agent.minor_key) if agent and not unstable else None
    unmaintained = maintenance is not None and not maintenance.maintained_on(catalog.today)
    return Subject(deployment, catalog, rules, tag, agent, maintenance, unmaintained)


# --- maintenance ------------------------------------------------------------------------


def check_end_of_maintenance(s: Subject) -> Finding | None:
    if s.agent is None or s.maintenance is None or s.maintenance.ends_on is None or not s.unmaintained:
        return None
    ended = s.maintenance.ends_on
    return s.finding(
        FindingKind.END_OF_MAINTENANCE,
        f"agent-{minor_label(s.agent.minor_key)}",
        f"{s.name} runs agent {s.agent}; agent {minor_label(s.agent.minor_key)} left maintenance on "
        f"{ended.isoformat()} ({since((s.today - ended).days)}){_why(s.maintenance)}",
    )


def check_maintenance_ending(s: Subject) -> Finding | None:
    if s.agent is None or s.maintenance is None or s.maintenance.ends_on is None or s.unmaintained:
        return None
    left = (s.maintenance.ends_on - s.today).days
    rung = reminder_rung(left, s.policy.reminder_days)
    if rung is None:
        return None
    return s.finding(
        FindingKind.MAINTENANCE_ENDING,
        f"agent-{minor_label(s.agent.minor_key)}:rung-{rung}",
        f"{s.name} runs agent {s.agent}; agent {minor_label(s.agent.minor_key)} leaves maintenance on "
        f"{s.maintenance.ends_on.isoformat()} ({until(left)}){_why(s.maintenance)}",
    )


def _why(maintenance: Maintenance) -> str:
    estimated = "; estimated: the .0 release date is unknown" if maintenance.window.estimated else ""
    if not maintenance.extended or maintenance.superseded_by is None:
        return estimated
    nominal = maintenance.window.end_of_maintenance.isoformat()
    return (
        f"; its nominal end was {nominal}, but as the newest minor it stays maintained until agent "
        f"{maintenance.superseded_by} counts, out for the grace period{estimated}"
    )


def check_prerelease_version(s: Subject) -> Finding | None:
    if s.agent is None or not s.unstable:
        return None
    item = s.catalog.agents.get(s.agent)
    what = (
        "a pre-release"
        if s.agent.is_prerelease
        else f"a release of the {item.channel if item else ''} channel"
    )
    return s.finding(
        FindingKind.PRERELEASE_VERSION,
        f"agent-{s.agent}",
        f"{s.name} runs agent {s.agent}, {what}: it is never maintained; move to a stable release",
    )


# --- behind latest ----------------------------------------------------------------------


def check_behind_latest_patch(s: Subject) -> Finding | None:
    if s.agent is None or not s.known or s.unmaintained or s.unstable:
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
    )


def check_behind_latest_minor(s: Subject) -> Finding | None:
    if s.agent is None or not s.known or s.unmaintained or s.unstable:
        return None
    target = s.catalog.newest_agent(major=s.agent.major, grace_days=s.policy.behind_grace_days)
    if target is None or target.minor_key <= s.agent.minor_key:
        return None
    return s.finding(
        FindingKind.BEHIND_LATEST_MINOR,
        f"agent-{s.agent}->{target}",
        f"{s.name} runs agent {s.agent}; agent {minor_label(target.minor_key)} is the latest minor "
        f"and the only one that gets bug fixes (older minors: critical CVE fixes only)",
    )


def check_new_major_available(s: Subject) -> Finding | None:
    if s.agent is None or not s.known:
        return None
    target = s.catalog.newest_agent(grace_days=s.policy.behind_grace_days)
    if target is None or target.major <= s.agent.major:
        return None
    return s.finding(
        FindingKind.NEW_MAJOR_AVAILABLE,
        f"agent-{s.agent.major}->{target}",
        f"{s.name} runs agent {s.agent}; agent major {target.major} is available ({target})",
        f"Stay on agent major {s.agent.major} while a maintained minor exists there; read the release "
        f"notes of {target} before planning the move (a new major may break)",
    )


# --- chart ------------------------------------------------------------------------------


def check_chart_incompatible(s: Subject) -> Finding | None:
    chart = s.deployment.chart_version
    if chart is None or s.agent is None or chart_admits(s.rules, chart, s.agent) is not False:
        return None
    return s.finding(
        FindingKind.CHART_INCOMPATIBLE,
        f"chart-{chart}:agent-{s.agent}",
        f"{s.name} runs agent {s.agent} with chart {chart}; the compatibility matrix does not allow it "
        f"(chart {chart} supports agent {', '.join(agents_for(s.rules, chart))})",
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
    steps = "; ".join(
        f"{index}. {chart_step_text(step, s.deployment, newest)}"
        for index, step in enumerate(upgrade.steps, start=1)
    )
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
    ships = f" (it ships agent {app} by default)" if app else ""
    breaking = "; a breaking upgrade" if newest.major > chart.major else ""
    return s.finding(
        FindingKind.CHART_BEHIND_LATEST,
        f"chart-{chart}->{newest}",
        f"{s.name} is on chart {chart}; chart {newest} is the newest{ships}{breaking}",
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
    )


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
    )


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
    return s.finding(
        FindingKind.YANKED_VERSION,
        "+".join(pulled),
        f"{s.name} runs {' and '.join(p.replace('-', ' ', 1) for p in pulled)}, which the vendor has yanked",
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
    check_prerelease_version,
)


@dataclass(frozen=True, slots=True)
class DeploymentReport:
    """One deployment's verdict: the one view every surface renders.

    ``end_of_maintenance`` is the first unmaintained day, or None while ``open_ended`` (the
    newest stable minor, kept maintained by the policy); ``nominal_end_of_maintenance`` is the
    policy's date either way. ``target`` and ``plan`` say where to go and how; findings are
    worst first and every fixable one names the target as its remedy.
    """

    deployment: Deployment
    state: SupportState
    agent_version: AgentVersion | None
    end_of_maintenance: date | None
    findings: tuple[Finding, ...]
    open_ended: bool = False
    nominal_end_of_maintenance: date | None = None
    days_left: int | None = None
    target: Target = STAY
    plan: tuple[Step, ...] = ()

    @property
    def worst_severity(self) -> Severity | None:
        return self.findings[0].severity if self.findings else None


def support_state(s: Subject) -> SupportState:
    if s.agent is None:
        return SupportState.UNKNOWN
    if s.unmaintained:
        return SupportState.UNMAINTAINED
    if s.unstable or s.agent in s.catalog.yanked:
        return SupportState.BEHIND  # maintained or not, a pulled or unstable release is never current
    if not s.known:
        return SupportState.UNKNOWN
    # current means the newest stable minor.patch overall: the last minor of an older major is behind
    newest = s.catalog.newest_agent(grace_days=s.policy.behind_grace_days)
    return SupportState.BEHIND if newest is not None and newest > s.agent else SupportState.CURRENT


CHART_CHECKS: tuple[Check, ...] = (
    check_chart_incompatible,
    check_chart_breaking_upgrade,
    check_chart_behind_latest,
)
IMAGE_CHECKS: tuple[Check, ...] = tuple(check for check in CHECKS if check not in CHART_CHECKS)
_PARTS = {"all": CHECKS, "image": IMAGE_CHECKS, "chart": CHART_CHECKS}


def raw_findings(deployment: Deployment, catalog: Catalog, rules: Rules, part: str = "all") -> list[Finding]:
    """The findings of the ``part``'s checks for ``deployment``, before remedies name the target."""
    subject = make_subject(deployment, catalog, rules)
    return [finding for check in _PARTS[part] if (finding := check(subject)) is not None]


def evaluate_one(deployment: Deployment, catalog: Catalog, rules: Rules) -> DeploymentReport:
    subject = make_subject(deployment, catalog, rules)
    image = [finding for check in IMAGE_CHECKS if (finding := check(subject)) is not None]
    chart = [finding for check in CHART_CHECKS if (finding := check(subject)) is not None]
    evaluate = lambda moved, part: raw_findings(moved, catalog, rules, part)  # noqa: E731
    target = choose_target(deployment, catalog, rules, evaluate, (image, chart))
    findings = image + chart
    plan = plan_steps(deployment, target, catalog, rules) if target.moves else ()
    remedy = target_remedy(target, plan)
    findings = [_with_remedy(finding, target, remedy) for finding in findings]
    findings.sort(key=lambda f: (-f.severity.rank, f.kind.value))
    maintenance = subject.maintenance
    return DeploymentReport(
        deployment=deployment,
        state=support_state(subject),
        agent_version=subject.agent,
        end_of_maintenance=maintenance.ends_on if maintenance else None,
        findings=tuple(findings),
        open_ended=maintenance is not None and maintenance.open,
        nominal_end_of_maintenance=maintenance.window.end_of_maintenance if maintenance else None,
        days_left=maintenance.days_left(catalog.today) if maintenance else None,
        target=target,
        plan=plan,
    )


def _with_remedy(finding: Finding, target: Target, remedy: str) -> Finding:
    if finding.kind in FIXABLE:
        prefix = "Pin a fixed tag. " if finding.kind is FindingKind.FLOATING_TAG and target.moves else ""
        return _remedied(finding, prefix + remedy)
    if (
        finding.kind is FindingKind.NEW_MAJOR_AVAILABLE
        and target.agent
        and target.agent.major > _major(finding)
    ):
        return _remedied(finding, remedy)
    return finding


def _remedied(f: Finding, remedy: str) -> Finding:
    # the constructor, not dataclasses.replace: this runs for every finding of a fleet
    return Finding(
        f.kind, f.severity, f.deployment, f.team, f.subject, f.dedup_key, f.summary, remedy,
        f.end_of_maintenance, f.days_left,
    )  # fmt: skip


def _major(finding: Finding) -> int:
    # the subject is agent-<running major>-><newest>
    return int(finding.subject.removeprefix("agent-").split("->", 1)[0])


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
