from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from packaging.specifiers import SpecifierSet

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate, evaluate_one, worst
from supportwatch.compatibility import ChartUpgrade, CompatRule, Incompatibility, Rules
from supportwatch.policy import MaintenancePolicy, SupportState
from supportwatch.values import Deployment, FindingKind, Release, Severity
from supportwatch.versions import AgentVersion, ImageRef, RuntimeVersion

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
POLICY = MaintenancePolicy(id="policy-1", wording="6 months from .0")
RULES = Rules(
    compatibility=(
        CompatRule(SpecifierSet("==1.5.0"), (SpecifierSet("==1.3.0"), SpecifierSet("==1.5.0"))),
        CompatRule(SpecifierSet(">=2.0.0"), (SpecifierSet(">=1.5.0"),)),
    ),
    incompatibilities=(
        Incompatibility(
            RuntimeVersion.parse("3.0-1"), RuntimeVersion.parse("3.0-2"), SpecifierSet("==1.0.0"), "bad"
        ),
    ),
    chart_upgrades=(
        ChartUpgrade(AgentVersion.parse("2.0.0"), ("Convert values to v2", "Delete workers by label")),
    ),
)


def tags(agent: str, *runtimes: str, pythons: tuple[str, ...] = ("3.11", "3.12")) -> tuple[str, ...]:
    return tuple(
        f"{runtime}-python-{py}-astro-agent-{agent}{suffix}"
        for runtime in runtimes
        for py in pythons
        for suffix in ("", "-base")
    )


RELEASES = [
    Release("agent", "1.0.0", date(2025, 6, 2), image_tags=tags("1.0.0", "3.0-1")),
    Release("agent", "1.3.0", date(2026, 1, 10), image_tags=tags("1.3.0", "3.1-7")),
    Release("agent", "1.3.1", date(2026, 1, 28), image_tags=tags("1.3.1", "3.1-7", "3.1-9")),
    Release("agent", "1.5.0", date(2026, 3, 20), image_tags=tags("1.5.0", "3.1-9")),
    Release("agent", "1.6.0", date(2026, 4, 16), image_tags=tags("1.6.0", "3.1-9", "3.2-2")),
    Release("agent", "1.6.1", date(2026, 5, 4), image_tags=tags("1.6.1", "3.1-10", "3.2-2", "3.2-3")),
    Release("agent", "1.6.2", date(2026, 5, 20), yanked=True, image_tags=tags("1.6.2", "3.2-3")),
    Release("agent", "1.7.0-rc.1", date(2026, 5, 25)),
    Release("agent", "1.7.0", date(2026, 6, 1), image_tags=tags("1.7.0", "3.2-3", "3.2-4")),
    Release("chart", "1.5.0", date(2026, 3, 1), app_version="1.5.0"),
    Release("chart", "2.0.0", date(2026, 5, 10), app_version="1.6.1"),
    Release("chart", "2.1.0", date(2026, 6, 5), app_version="1.7.0"),
    Release("runtime", "3.0-1", date(2025, 5, 1)),
    Release("runtime", "3.0-2", date(2025, 6, 1)),
    Release("runtime", "3.1-7", date(2026, 1, 1)),
    Release("runtime", "3.1-9", date(2026, 1, 20)),
    Release("runtime", "3.1-10", date(2026, 4, 30)),
    Release("runtime", "3.2-2", date(2026, 4, 10)),
    Release("runtime", "3.2-3", date(2026, 5, 1)),
    Release("runtime", "3.2-4", date(2026, 5, 28)),
]


def dep(
    tag: str, *, chart: str | None = None, orch: str | None = None, platform: str = "linux", name: str = "d1"
) -> Deployment:
    return Deployment(
        name=name,
        team="team-a",
        image=ImageRef.parse(f"{REPO}:{tag}"),
        chart_version=AgentVersion.parse(chart) if chart else None,
        orchestration_runtime=RuntimeVersion.parse(orch) if orch else None,
        platform=platform,
    )


def run(
    deployment: Deployment,
    today: date,
    releases: list[Release] | None = None,
    policy: MaintenancePolicy = POLICY,
) -> DeploymentReport:
    catalog = Catalog.build(releases if releases is not None else RELEASES, policy=policy, today=today)
    return evaluate_one(deployment, catalog, RULES)


def kinds(report: DeploymentReport) -> set[str]:
    return {finding.kind.value for finding in report.findings}


def finding(report, kind: FindingKind):  # type: ignore[no-untyped-def]
    [found] = [f for f in report.findings if f.kind is kind]
    return found


def test_current_deployment_has_no_findings() -> None:
    report = run(dep("3.2-4-python-3.12-astro-agent-1.7.0", chart="2.1.0", orch="3.2-4"), date(2026, 6, 20))
    assert report.findings == ()
    assert report.state is SupportState.CURRENT
    # 1.7 is the newest stable minor: open, with its nominal end kept apart
    assert report.open_ended
    assert report.end_of_maintenance is None
    assert report.nominal_end_of_maintenance == date(2026, 12, 1)
    assert not report.target.moves and report.plan == ()


def test_end_of_maintenance_names_exact_fixed_tag_same_python_and_runtime_ceiling() -> None:
    report = run(dep("3.1-9-python-3.11-astro-agent-1.3.1", orch="3.2-3"), date(2026, 8, 1))
    assert report.state is SupportState.UNMAINTAINED
    found = finding(report, FindingKind.END_OF_MAINTENANCE)
    assert found.severity is Severity.CRITICAL
    assert "2026-07-10" in found.summary
    # newest agent 1.7.0, Python kept at 3.11, Runtime 3.2-4 is above the ceiling 3.2-3
    assert found.remedy == f"Move to agent 1.7.0: {REPO}:3.2-3-python-3.11-astro-agent-1.7.0"
    assert FindingKind.BEHIND_LATEST_MINOR.value not in kinds(report)


def test_base_flavour_is_kept_in_remedy() -> None:
    report = run(dep("3.1-9-python-3.12-astro-agent-1.3.1-base"), date(2026, 8, 1))
    assert finding(report, FindingKind.END_OF_MAINTENANCE).remedy.endswith(
        "3.2-4-python-3.12-astro-agent-1.7.0-base"
    )


def test_maintenance_ending_fires_per_rung_with_distinct_keys() -> None:
    deployment = dep("3.1-9-python-3.12-astro-agent-1.6.1")
    keys = {}
    for today, rung in [
        (date(2026, 8, 17), 60),
        (date(2026, 9, 16), 30),
        (date(2026, 10, 2), 14),
        (date(2026, 10, 15), 1),
    ]:
        found = finding(run(deployment, today), FindingKind.MAINTENANCE_ENDING)
        assert found.dedup_key.endswith(f"rung-{rung}")
        assert found.days_left == (date(2026, 10, 16) - today).days
        keys[rung] = found.dedup_key
    assert len(set(keys.values())) == 4
    assert FindingKind.MAINTENANCE_ENDING.value not in kinds(
        run(deployment, date(2026, 8, 16))
    )  # 61 days left
    on_the_day = run(deployment, date(2026, 10, 16))
    assert FindingKind.END_OF_MAINTENANCE.value in kinds(on_the_day)
    assert FindingKind.MAINTENANCE_ENDING.value not in kinds(on_the_day)


def test_latest_minor_is_never_ending_or_unmaintained_by_default() -> None:
    deployment = dep("3.2-4-python-3.12-astro-agent-1.7.0")
    report = run(deployment, date(2027, 3, 1))
    assert report.state is SupportState.CURRENT
    assert not kinds(report) & {"end_of_maintenance", "maintenance_ending"}
    strict = MaintenancePolicy(id="strict", wording="", latest_minor_supported=False)
    assert "end_of_maintenance" in kinds(run(deployment, date(2027, 3, 1), policy=strict))


def test_behind_latest_patch_waits_out_the_grace_period() -> None:
    deployment = dep("3.1-9-python-3.12-astro-agent-1.6.0")
    only_16 = [r for r in RELEASES if not r.version.startswith(("1.7", "1.6.2"))]
    # 1.6.1 released 2026-05-04; grace 7 days: due from 2026-05-11
    assert "behind_latest_patch" not in kinds(run(deployment, date(2026, 5, 10), only_16))
    assert run(deployment, date(2026, 5, 10), only_16).state is SupportState.CURRENT
    report = run(deployment, date(2026, 5, 11), only_16)
    found = finding(report, FindingKind.BEHIND_LATEST_PATCH)
    assert found.dedup_key == "behind_latest_patch:d1:agent-1.6.0->1.6.1"
    assert found.remedy == f"Move to agent 1.6.1: {REPO}:3.2-3-python-3.12-astro-agent-1.6.1"
    assert report.state is SupportState.BEHIND


def test_yanked_and_prerelease_versions_are_never_recommended() -> None:
    report = run(dep("3.2-2-python-3.12-astro-agent-1.6.1"), date(2026, 5, 30))
    # 1.6.2 is yanked, 1.7.0-rc.1 is a pre-release, 1.7.0 is inside its grace period
    assert report.findings == ()
    assert report.state is SupportState.CURRENT


def test_behind_latest_minor() -> None:
    report = run(dep("3.2-2-python-3.12-astro-agent-1.6.1", orch="3.2-4"), date(2026, 6, 20))
    found = finding(report, FindingKind.BEHIND_LATEST_MINOR)
    assert found.severity is Severity.WARNING
    assert "1.7" in found.summary and "CVE" in found.summary
    assert found.remedy.endswith("3.2-4-python-3.12-astro-agent-1.7.0")


def test_new_major_available_is_info() -> None:
    releases = [*RELEASES, Release("agent", "2.0.0", date(2026, 6, 10), image_tags=tags("2.0.0", "3.2-4"))]
    report = run(dep("3.2-4-python-3.12-astro-agent-1.7.0"), date(2026, 6, 30), releases)
    found = finding(report, FindingKind.NEW_MAJOR_AVAILABLE)
    assert found.severity is Severity.INFO
    # current means the newest stable minor.patch overall: once 2.0.0 counts (06-17), 1.7.0 is behind
    assert report.state is SupportState.BEHIND


def test_chart_incompatible_names_the_chart_to_move_to() -> None:
    report = run(dep("3.1-9-python-3.12-astro-agent-1.3.1", chart="2.0.0"), date(2026, 6, 20))
    found = finding(report, FindingKind.CHART_INCOMPATIBLE)
    assert found.severity is Severity.CRITICAL
    assert "agent 1.3.1 with chart 2.0.0" in found.summary
    compatible = run(dep("3.1-9-python-3.12-astro-agent-1.5.0", chart="1.5.0"), date(2026, 6, 20))
    assert "chart_incompatible" not in kinds(compatible)
    unlisted = run(dep("3.1-9-python-3.12-astro-agent-1.6.0", chart="1.5.0"), date(2026, 6, 20))
    # chart 2.1.0 admits the running 1.6.0, so the chart moves first, then the agent to the newest minor
    assert finding(unlisted, FindingKind.CHART_INCOMPATIBLE).remedy == (
        f"Upgrade the chart from 1.5.0 to 2.1.0 (a breaking upgrade: see the plan); then move to agent 1.7.0: {REPO}:3.2-4-python-3.12-astro-agent-1.7.0"
    )


@pytest.mark.parametrize(
    ("namespace", "release", "shown_namespace", "shown_release"),
    [("agents-prod", "agent", "agents-prod", "agent"), (None, None, "<namespace>", "<release>")],
)
def test_the_breaking_upgrade_fix_fills_in_the_deployments_names_as_its_plan_does(
    namespace: str | None, release: str | None, shown_namespace: str, shown_release: str
) -> None:
    steps = (
        "`kubectl delete svc -l component=worker -n {namespace}`",
        "`helm upgrade {release} {chart} --version {version} --set-json 'sentinel={\"enabled\":true}'`",
    )
    rules = Rules(
        compatibility=RULES.compatibility, chart_upgrades=(ChartUpgrade(AgentVersion(2, 0, 0), steps),)
    )
    deployment = Deployment(
        name="d1",
        team="team-a",
        image=ImageRef.parse(f"{REPO}:3.1-9-python-3.12-astro-agent-1.5.0"),
        chart_version=AgentVersion(1, 5, 0),
        namespace=namespace,
        helm_release=release,
    )
    catalog = Catalog.build(RELEASES, policy=POLICY, today=date(2026, 6, 20))
    report = evaluate_one(deployment, catalog, rules)
    fix = finding(report, FindingKind.CHART_BREAKING_UPGRADE).remedy
    assert fix == (
        "To upgrade to chart 2.1.0: "
        f"1. `kubectl delete svc -l component=worker -n {shown_namespace}`; "
        f"2. `helm upgrade {shown_release} astronomer/astro-remote-execution-agent --version 2.1.0 "
        "--set-json 'sentinel={\"enabled\":true}'`"
    )
    # the plan says the same commands, step by step
    chart_steps = [step.text for step in report.plan if step.change == "chart"]
    assert [text.split(": ", 1)[1] for text in chart_steps] == [
        item.split(". ", 1)[1] for item in fix.split(": ", 1)[1].split("; ")
    ]


def test_agent_remedy_adds_chart_upgrade_when_target_needs_it() -> None:
    report = run(dep("3.1-9-python-3.12-astro-agent-1.5.0", chart="1.5.0"), date(2026, 10, 1))
    found = finding(report, FindingKind.END_OF_MAINTENANCE)
    assert found.remedy.startswith(
        "Upgrade the chart from 1.5.0 to 2.1.0 (a breaking upgrade: see the plan); then move to agent 1.7.0: "
    )


def test_chart_breaking_upgrade_lists_steps_and_behind_latest() -> None:
    report = run(dep("3.1-9-python-3.12-astro-agent-1.5.0", chart="1.5.0"), date(2026, 6, 20))
    breaking = finding(report, FindingKind.CHART_BREAKING_UPGRADE)
    assert breaking.severity is Severity.INFO
    assert "1. Convert values to v2; 2. Delete workers by label" in breaking.remedy
    behind = finding(report, FindingKind.CHART_BEHIND_LATEST)
    assert "chart 2.1.0 is the newest (it ships agent 1.7.0 by default)" in behind.summary
    assert behind.remedy.startswith(
        "Upgrade the chart from 1.5.0 to 2.1.0 (a breaking upgrade: see the plan); then move to agent 1.7.0"
    )
    on_two = run(dep("3.2-2-python-3.12-astro-agent-1.6.1", chart="2.0.0"), date(2026, 6, 20))
    assert "chart_breaking_upgrade" not in kinds(on_two)
    assert "chart_behind_latest" in kinds(on_two)


def test_runtime_skew_picks_a_tag_within_the_orchestration_runtime() -> None:
    report = run(dep("3.1-10-python-3.12-astro-agent-1.6.1", orch="3.1-9"), date(2026, 5, 10))
    found = finding(report, FindingKind.RUNTIME_SKEW)
    assert "3.1-10" in found.summary and "3.1-9" in found.summary  # 3.1-10 > 3.1-9 numerically
    # no image of 1.6.1 (or newer) has a Runtime <= 3.1-9; 1.6.0 would leave 1.6.1 behind it:
    # the smallest move that clears everything is raising the orchestration plane to 3.1-10
    assert found.remedy == "Upgrade the orchestration plane to Runtime 3.1-10 or later"
    assert report.target.blocked and report.target.tag is None
    assert [step.change for step in report.plan] == ["orchestration"]
    fine = run(dep("3.1-9-python-3.12-astro-agent-1.6.0", orch="3.1-10"), date(2026, 5, 10))
    assert "runtime_skew" not in kinds(fine)
    fixable = run(dep("3.2-2-python-3.12-astro-agent-1.6.0", orch="3.1-9"), date(2026, 5, 10))
    # 1.6.1 (2026-05-04) does not count before 2026-05-11, so 1.6.0 on 3.1-9 clears everything
    assert (
        finding(fixable, FindingKind.RUNTIME_SKEW).remedy == f"Use {REPO}:3.1-9-python-3.12-astro-agent-1.6.0"
    )
    # no 1.6.1 tag fits under 3.1-7, but an older-Runtime tag of a newer agent is not invented either
    newer = run(dep("3.1-9-python-3.12-astro-agent-1.3.1", orch="3.1-7"), date(2026, 2, 1))
    assert (
        finding(newer, FindingKind.RUNTIME_SKEW).remedy == f"Use {REPO}:3.1-7-python-3.12-astro-agent-1.3.1"
    )


def test_known_incompatibility() -> None:
    report = run(dep("3.0-1-python-3.12-astro-agent-1.0.0", orch="3.0-2"), date(2025, 7, 1))
    found = finding(report, FindingKind.KNOWN_INCOMPATIBILITY)
    assert found.severity is Severity.CRITICAL
    assert found.summary.endswith(": bad")
    other_agent = run(dep("3.0-1-python-3.12-astro-agent-1.3.1", orch="3.0-2"), date(2026, 2, 1))
    assert "known_incompatibility" not in kinds(other_agent)


@pytest.mark.parametrize("tag", ["3.1-9", "3.1-9-python-3.12", "3.1-9-base", "3.1-9-python-3.12-base"])
def test_floating_tags_are_unknown_state(tag: str) -> None:
    report = run(dep(tag, orch="3.2-4"), date(2026, 6, 20))
    found = finding(report, FindingKind.FLOATING_TAG)
    assert report.state is SupportState.UNKNOWN
    # the newest agent published on that Runtime, Python and flavour: what the floating tag points to,
    # pinned first; 1.6.0 is behind 1.6.1 and 1.7 (both counted), so the target is 1.7.0 on 3.2-4
    suffix = "-base" if tag.endswith("-base") else ""
    assert report.plan[0].change == "pin"
    assert report.plan[0].image == f"{REPO}:3.1-9-python-3.12-astro-agent-1.6.0{suffix}"
    assert (
        found.remedy
        == f"Pin a fixed tag. Move to agent 1.7.0: {REPO}:3.2-4-python-3.12-astro-agent-1.7.0{suffix}"
    )


def test_digest_pinned_floating_tag_still_flags() -> None:
    deployment = Deployment(name="d1", team="t", image=ImageRef.parse(f"{REPO}@sha256:{'0' * 64}"))
    report = run(deployment, date(2026, 6, 20))
    assert "pinned by digest" in finding(report, FindingKind.FLOATING_TAG).summary


def test_unknown_versions() -> None:
    report = run(dep("3.1-11-python-3.12-astro-agent-1.6.9", chart="2.0.7", orch="3.1-9"), date(2026, 6, 20))
    found = finding(report, FindingKind.UNKNOWN_VERSION)
    assert found.dedup_key == "unknown_version:d1:agent-1.6.9+chart-2.0.7+runtime-3.1-11"
    assert report.state is SupportState.UNKNOWN
    # an unseen patch of the known minor 1.6 follows 1.6's window (1.7 counts since 2026-06-08)
    assert report.end_of_maintenance == date(2026, 10, 16)


def test_an_unknown_runtime_used_on_both_planes_is_named_once() -> None:
    report = run(dep("3.1-11-python-3.12-astro-agent-1.6.0", orch="3.1-11"), date(2026, 6, 20))
    found = finding(report, FindingKind.UNKNOWN_VERSION)
    assert found.dedup_key == "unknown_version:d1:runtime-3.1-11"
    assert found.summary == "d1 uses runtime 3.1-11, which no source has seen"


def test_releases_after_the_evaluation_day_do_not_exist_yet() -> None:
    report = run(dep("3.1-9-python-3.12-astro-agent-1.6.0"), date(2026, 4, 20))
    assert report.state is SupportState.CURRENT
    assert "unknown_version" not in kinds(report)
    assert "unknown_version" in kinds(run(dep("3.1-9-python-3.12-astro-agent-1.6.0"), date(2026, 4, 15)))


@pytest.mark.parametrize("platform", ["rhel", "RHEL8", "Red Hat Enterprise Linux 9"])
def test_unsupported_platform(platform: str) -> None:
    report = run(dep("3.2-4-python-3.12-astro-agent-1.7.0", platform=platform), date(2026, 6, 20))
    assert finding(report, FindingKind.UNSUPPORTED_PLATFORM).severity is Severity.CRITICAL


def test_dedup_keys_are_stable_and_findings_sorted_worst_first() -> None:
    deployment = dep("3.1-9-python-3.11-astro-agent-1.3.1", chart="1.5.0", orch="3.1-9", platform="rhel")
    first = run(deployment, date(2026, 8, 1))
    second = run(deployment, date(2026, 8, 2))
    assert [f.dedup_key for f in first.findings] == [f.dedup_key for f in second.findings]
    ranks = [f.severity.rank for f in first.findings]
    assert ranks == sorted(ranks, reverse=True)


def test_evaluate_uses_the_configured_time_zone_day() -> None:
    deployment = dep("3.1-9-python-3.12-astro-agent-1.6.1")
    late_utc = datetime(2026, 10, 15, 23, 30, tzinfo=UTC)  # already 10-16 in Berlin
    [utc] = evaluate([deployment], RELEASES, POLICY, rules=RULES, now=late_utc)
    [berlin] = evaluate(
        [deployment], RELEASES, POLICY, rules=RULES, now=late_utc, tz=ZoneInfo("Europe/Berlin")
    )
    assert utc.state is SupportState.BEHIND
    assert berlin.state is SupportState.UNMAINTAINED
    assert worst([berlin]) is Severity.CRITICAL
    with pytest.raises(ValueError, match="naive"):
        evaluate([deployment], RELEASES, POLICY, rules=RULES, now=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time is refused


def test_catalog_skips_unparseable_versions() -> None:
    catalog = Catalog.build(
        [Release("agent", "latest", None), *RELEASES], policy=POLICY, today=date(2026, 6, 20)
    )
    assert catalog.skipped == 1


def test_a_yanked_agent_is_critical_and_names_the_good_patch() -> None:
    report = run(dep("3.2-3-python-3.12-astro-agent-1.6.2", orch="3.2-3"), date(2026, 5, 30))
    found = finding(report, FindingKind.YANKED_VERSION)
    assert found.severity is Severity.CRITICAL
    assert found.dedup_key == "yanked_version:d1:agent-1.6.2"
    assert found.summary == "d1 runs agent 1.6.2, which the vendor has yanked"
    assert found.remedy == f"Move to agent 1.6.1: {REPO}:3.2-3-python-3.12-astro-agent-1.6.1"
    assert report.state is SupportState.BEHIND  # newer than every good release, still not current


def test_a_yanked_runtime_is_flagged_with_a_tag_on_another_runtime() -> None:
    releases = [*RELEASES, Release("runtime", "3.2-5", date(2026, 6, 2), yanked=True)]
    releases.append(Release("agent", "1.7.1", date(2026, 6, 3), image_tags=tags("1.7.1", "3.2-4", "3.2-5")))
    report = run(dep("3.2-5-python-3.12-astro-agent-1.7.1", orch="3.2-5"), date(2026, 6, 20), releases)
    found = finding(report, FindingKind.YANKED_VERSION)
    assert found.dedup_key == "yanked_version:d1:runtime-3.2-5"
    assert found.remedy == f"Use {REPO}:3.2-4-python-3.12-astro-agent-1.7.1"
