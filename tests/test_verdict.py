"""The verdict, case by case, worked out by hand from the policy before the code ran.

Every expected value below is written from the vendor's policy as DESIGN §1 reads it: windows
of 6 months from the ``.0`` release clamped to the month's end, the newest *stable* minor kept
open, a newer release counting 7 days after it is out, yanked / beta / pre-release versions
never counting, and one target that clears every fixable finding.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from packaging.specifiers import SpecifierSet

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate_one
from supportwatch.compatibility import ChartUpgrade, CompatRule, Rules
from supportwatch.policy import MaintenancePolicy, SupportState
from supportwatch.report import check_document, check_table
from supportwatch.target import FIXABLE
from supportwatch.values import Deployment, FindingKind, Release, Severity
from supportwatch.versions import AgentVersion, ImageRef, RuntimeVersion

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
POLICY = MaintenancePolicy(id="p", wording="6 months from the .0 release")
RULES = Rules(
    compatibility=(
        CompatRule(SpecifierSet("==1.5.0"), (SpecifierSet("==1.3.0"), SpecifierSet("==1.5.0"))),
        CompatRule(SpecifierSet(">=2.0.0"), (SpecifierSet(">=1.5.0"),)),
    ),
    chart_upgrades=(
        ChartUpgrade(
            AgentVersion.parse("2.0.0"),
            (
                "Update values.yaml to v2",
                "`kubectl delete deployment -l component=worker -n {namespace}`",
                "`kubectl delete svc -l component=worker -n {namespace}`",
                "`helm upgrade {release} {chart} --version {version} --namespace {namespace} --values values.yaml`",
            ),
        ),
    ),
)


def agent(version: str, day: date, *runtimes: str, **extra: object) -> Release:
    tags = tuple(f"{runtime}-python-3.12-astro-agent-{version}" for runtime in runtimes)
    return Release("agent", version, day, image_tags=tags, **extra)  # type: ignore[arg-type]


def dep(tag: str, *, chart: str | None = None, orch: str | None = None, **extra: str) -> Deployment:
    return Deployment(
        name="d1",
        team="t",
        image=ImageRef.parse(f"{REPO}:{tag}"),
        chart_version=AgentVersion.parse(chart) if chart else None,
        orchestration_runtime=RuntimeVersion.parse(orch) if orch else None,
        **extra,
    )


def judge(deployment: Deployment, releases: list[Release], today: date) -> DeploymentReport:
    return evaluate_one(deployment, Catalog.build(releases, policy=POLICY, today=today), RULES)


def kinds(report: DeploymentReport) -> dict[str, str]:
    return {f.kind.value: f.severity.value for f in report.findings}


def the(report: DeploymentReport, kind: FindingKind):  # type: ignore[no-untyped-def]
    [found] = [f for f in report.findings if f.kind is kind]
    return found


def ref(tag: str) -> str:
    return f"{REPO}:{tag}"


# --- 1. a new major ships while the old major's last minor has 57 days left ------------------

# 1.9.0 on 2026-03-28: nominal end 2026-09-28. 2.0.0 ships 2026-08-02 (57 days before), counts 08-09.
NEW_MAJOR = [
    agent("1.8.0", date(2026, 1, 5), "3.2-2"),
    agent("1.9.0", date(2026, 3, 28), "3.2-3"),
    agent("1.9.1", date(2026, 4, 10), "3.2-3"),
    agent("2.0.0", date(2026, 8, 2), "3.3-1"),
]
ON_19 = dep("3.2-3-python-3.12-astro-agent-1.9.1", orch="3.3-1")


def test_before_the_new_major_the_old_newest_minor_is_open() -> None:
    report = judge(ON_19, NEW_MAJOR, date(2026, 8, 1))
    assert report.state is SupportState.CURRENT
    assert report.findings == ()
    assert report.open_ended and report.end_of_maintenance is None
    assert report.nominal_end_of_maintenance == date(2026, 9, 28)


def test_a_new_major_ends_the_exemption_and_the_rung_60_reminder_names_the_new_major() -> None:
    day0 = judge(ON_19, NEW_MAJOR, date(2026, 8, 2))
    assert kinds(day0) == {"maintenance_ending": "warning"}  # 2.0.0 does not count yet: no info
    ending = the(day0, FindingKind.MAINTENANCE_ENDING)
    assert ending.dedup_key == "maintenance_ending:d1:agent-1.9:rung-60"
    assert "leaves maintenance on 2026-09-28 (in 57 days)" in ending.summary
    assert ending.remedy == f"Move to agent 2.0.0: {ref('3.3-1-python-3.12-astro-agent-2.0.0')}"
    assert day0.state is SupportState.CURRENT and day0.worst_severity is Severity.WARNING
    assert not day0.open_ended and day0.end_of_maintenance == date(2026, 9, 28) and day0.days_left == 57

    day7 = judge(ON_19, NEW_MAJOR, date(2026, 8, 9))
    assert kinds(day7) == {"maintenance_ending": "warning", "new_major_available": "info"}
    # the info finding agrees with the target: both say 2.0.0
    assert the(day7, FindingKind.NEW_MAJOR_AVAILABLE).remedy == ending.remedy

    day57 = judge(ON_19, NEW_MAJOR, date(2026, 9, 28))
    assert day57.state is SupportState.UNMAINTAINED
    assert "left maintenance on 2026-09-28 (today)" in the(day57, FindingKind.END_OF_MAINTENANCE).summary
    # a year later it is still critical: the old major's last minor is not current forever
    later = judge(ON_19, NEW_MAJOR, date(2027, 9, 1))
    assert later.worst_severity is Severity.CRITICAL and later.state is SupportState.UNMAINTAINED


# --- 2. a newer minor ships after the newest minor's nominal end -------------------------------

# 1.6.0 on 2026-04-16: nominal end 2026-10-16. 1.7.0 ships 2026-11-02 and counts from 2026-11-09.
LATE_MINOR = [
    agent("1.6.0", date(2026, 4, 16), "3.2-2"),
    agent("1.6.1", date(2026, 5, 4), "3.2-2"),
    agent("1.7.0", date(2026, 11, 2), "3.2-4"),
]
ON_16 = dep("3.2-2-python-3.12-astro-agent-1.6.1")


def test_past_its_nominal_end_the_newest_minor_is_open_until_a_newer_one_ships() -> None:
    report = judge(ON_16, LATE_MINOR, date(2026, 11, 1))
    assert report.state is SupportState.CURRENT and report.findings == ()
    assert report.open_ended and report.nominal_end_of_maintenance == date(2026, 10, 16)
    [line] = [row for row in check_table([report]).splitlines() if row.startswith("d1 ")]
    assert line.endswith("open: newest minor (nominal 2026-10-16)")  # never a bare past date
    item = check_document([report], evaluated_at=_noon(date(2026, 11, 1)))["deployments"][0]
    assert item["end_of_maintenance"] is None and item["end_of_maintenance_open"] is True
    assert item["nominal_end_of_maintenance"] == "2026-10-16"


def test_day_0_6_and_7_after_a_newer_minor_ships_late() -> None:
    day0 = judge(ON_16, LATE_MINOR, date(2026, 11, 2))
    found = the(day0, FindingKind.MAINTENANCE_ENDING)
    assert found.dedup_key == "maintenance_ending:d1:agent-1.6:rung-7"
    assert "leaves maintenance on 2026-11-09 (in 7 days)" in found.summary
    assert "nominal end was 2026-10-16" in found.summary
    assert found.remedy == f"Move to agent 1.7.0: {ref('3.2-4-python-3.12-astro-agent-1.7.0')}"
    assert found.end_of_maintenance == date(2026, 11, 9)
    assert day0.state is SupportState.CURRENT  # 1.7.0 does not count yet: 1.6.1 is not behind

    day6 = judge(ON_16, LATE_MINOR, date(2026, 11, 8))
    found = the(day6, FindingKind.MAINTENANCE_ENDING)
    assert found.dedup_key.endswith("rung-1")
    assert "(tomorrow)" in found.summary

    day7 = judge(ON_16, LATE_MINOR, date(2026, 11, 9))
    assert day7.state is SupportState.UNMAINTAINED
    ended = the(day7, FindingKind.END_OF_MAINTENANCE)
    assert "left maintenance on 2026-11-09 (today)" in ended.summary
    assert ended.remedy == f"Move to agent 1.7.0: {ref('3.2-4-python-3.12-astro-agent-1.7.0')}"


# --- 3. yanked and beta newer minors never count ------------------------------------------------


def test_a_yanked_or_beta_newer_minor_never_ends_the_exemption_or_makes_anything_behind() -> None:
    for extra in ({"yanked": True}, {"channel": "beta"}):
        releases = [*LATE_MINOR[:2], agent("1.7.0", date(2026, 11, 2), "3.2-4", **extra)]
        report = judge(ON_16, releases, date(2026, 12, 20))
        assert report.state is SupportState.CURRENT, extra
        assert report.findings == (), extra
        assert report.open_ended, extra
        assert not report.target.moves, extra


def test_a_deployment_on_a_beta_release_moves_to_the_newest_stable_one() -> None:
    releases = [*LATE_MINOR[:2], agent("1.7.0", date(2026, 11, 2), "3.2-4", channel="beta")]
    report = judge(dep("3.2-4-python-3.12-astro-agent-1.7.0"), releases, date(2026, 12, 20))
    assert report.state is SupportState.BEHIND
    found = the(report, FindingKind.PRERELEASE_VERSION)
    assert found.severity is Severity.WARNING
    assert "release of the beta channel" in found.summary
    assert found.remedy == f"Move to agent 1.6.1: {ref('3.2-2-python-3.12-astro-agent-1.6.1')}"


# --- 4. a deployment on a pre-release ------------------------------------------------------------


def test_a_pre_release_is_never_current_and_names_the_stable_release() -> None:
    releases = [*LATE_MINOR, agent("1.7.0-rc1", date(2026, 10, 20), "3.2-4")]
    on_rc = dep("3.2-4-python-3.12-astro-agent-1.7.0-rc1")
    before = judge(on_rc, releases, date(2026, 10, 25))  # 1.7.0 not out: 1.6.1 is the stable one
    assert before.state is SupportState.BEHIND
    found = the(before, FindingKind.PRERELEASE_VERSION)
    assert found.dedup_key == "prerelease_version:d1:agent-1.7.0-rc1"
    assert found.remedy == f"Move to agent 1.6.1: {ref('3.2-2-python-3.12-astro-agent-1.6.1')}"
    after = judge(on_rc, releases, date(2026, 11, 20))
    assert after.state is SupportState.BEHIND
    assert kinds(after) == {"prerelease_version": "warning"}  # not also "behind latest patch"
    assert the(after, FindingKind.PRERELEASE_VERSION).remedy == (
        f"Move to agent 1.7.0: {ref('3.2-4-python-3.12-astro-agent-1.7.0')}"
    )


def test_a_pre_release_never_counts_for_anyone_else() -> None:
    releases = [*LATE_MINOR[:2], agent("1.7.0-rc1", date(2026, 10, 20), "3.2-4")]
    report = judge(ON_16, releases, date(2026, 12, 1))
    assert report.findings == () and report.open_ended


# --- 5. an unseen patch of a minor that ended last week ------------------------------------------


def test_an_unseen_patch_follows_its_minors_window() -> None:
    releases = [
        agent("1.3.0", date(2026, 1, 10), "3.1-9"),
        agent("1.3.1", date(2026, 1, 28), "3.1-9"),
        agent("1.5.0", date(2026, 3, 20), "3.1-9"),
    ]
    # 1.3 ends 2026-07-10 (1.5.0 counts since 2026-03-27); 2026-07-17 is a week later
    report = judge(dep("3.1-9-python-3.12-astro-agent-1.3.7"), releases, date(2026, 7, 17))
    assert kinds(report) == {"end_of_maintenance": "critical", "unknown_version": "warning"}
    assert report.state is SupportState.UNMAINTAINED
    assert report.end_of_maintenance == date(2026, 7, 10)
    assert "(7 days ago)" in the(report, FindingKind.END_OF_MAINTENANCE).summary
    assert report.target.agent == AgentVersion.parse("1.5.0")
    ending = judge(dep("3.1-9-python-3.12-astro-agent-1.3.7"), releases, date(2026, 7, 9))
    assert "(tomorrow)" in the(ending, FindingKind.MAINTENANCE_ENDING).summary


# --- 6. chart 2.0.0 with agent 1.3.0 ---------------------------------------------------------------

CHARTS = [
    agent("1.3.0", date(2026, 1, 10), "3.1-9"),
    agent("1.5.0", date(2026, 3, 20), "3.1-9"),
    agent("1.6.0", date(2026, 4, 16), "3.1-9"),
    Release("chart", "1.5.0", date(2026, 3, 1)),
    Release("chart", "2.0.0", date(2026, 5, 10)),
    Release("chart", "2.1.0", date(2026, 6, 5)),
]


def test_chart_2_with_agent_1_3_moves_the_agent_never_the_chart_down() -> None:
    report = judge(dep("3.1-9-python-3.12-astro-agent-1.3.0", chart="2.0.0"), CHARTS, date(2026, 6, 20))
    incompatible = the(report, FindingKind.CHART_INCOMPATIBLE)
    assert "chart 2.0.0 supports agent >=1.5.0" in incompatible.summary
    target = report.target
    assert target.agent == AgentVersion.parse("1.6.0")
    assert target.chart == AgentVersion.parse("2.1.0")
    # chart 2.1.0 does not take the running 1.3.0, chart 2.0.0 takes 1.6.0: the agent goes first
    assert [step.change for step in report.plan] == ["agent", "chart"]
    assert incompatible.remedy == (
        f"Move to agent 1.6.0: {ref('3.1-9-python-3.12-astro-agent-1.6.0')}; "
        "then upgrade the chart from 2.0.0 to 2.1.0"
    )
    assert "1.5.0" not in str(target.chart)


def test_chart_1_5_with_agent_1_3_crosses_the_breaking_upgrade_through_a_bridge_agent() -> None:
    deployment = dep(
        "3.1-9-python-3.12-astro-agent-1.3.0", chart="1.5.0", namespace="astro", helm_release="agent"
    )
    report = judge(deployment, CHARTS, date(2026, 6, 20))
    # chart 1.5.0 takes 1.3.0/1.5.0 only, chart 2.1.0 takes >=1.5.0: 1.3.0 -> 1.5.0, chart, 1.5.0 -> 1.6.0
    assert [step.change for step in report.plan] == ["agent", "chart", "chart", "chart", "chart", "agent"]
    assert report.plan[0].image == ref("3.1-9-python-3.12-astro-agent-1.5.0")
    assert "`kubectl delete deployment -l component=worker -n astro`" in report.plan[2].text
    assert "`kubectl delete svc -l component=worker -n astro`" in report.plan[3].text
    assert (
        "`helm upgrade agent astronomer/astro-remote-execution-agent --version 2.1.0 --namespace astro "
        "--values values.yaml`" in report.plan[4].text
    )
    assert report.plan[4].chart_version == "2.1.0"
    assert report.plan[5].image == ref("3.1-9-python-3.12-astro-agent-1.6.0")


# --- 7. an orchestration plane older than every image of the newest agent ------------------------


def test_an_old_orchestration_plane_blocks_the_target_and_says_what_to_do_first() -> None:
    releases = [
        agent("1.6.0", date(2026, 4, 16), "3.1-9", "3.2-2"),
        agent("1.6.1", date(2026, 5, 4), "3.2-2"),
        agent("1.7.0", date(2026, 6, 1), "3.2-4"),
    ]
    report = judge(dep("3.1-9-python-3.12-astro-agent-1.6.0", orch="3.1-9"), releases, date(2026, 6, 20))
    # 1.6.0 is behind 1.6.1 and 1.7; neither has an image on a Runtime <= 3.1-9
    assert report.target.blocked
    assert report.target.orchestration == RuntimeVersion.parse("3.2-4")
    assert report.plan[0].change == "orchestration"
    assert "to Runtime 3.2-4 or later, before the execution plane" in report.plan[0].text
    # then the agent and the Runtime change together: no 1.7.0 image on 3.1-9, no 1.6.0 on 3.2-4
    assert report.plan[1].change == "image"
    assert report.plan[1].image == ref("3.2-4-python-3.12-astro-agent-1.7.0")
    item = check_document([report], evaluated_at=_noon(date(2026, 6, 20)))["deployments"][0]
    assert item["target"]["image"] is None
    assert "upgrade the orchestration plane to 3.2-4 or later first" in item["target"]["blocked"]
    for finding in report.findings:
        assert "no image tag" not in finding.remedy and "known yet" not in finding.remedy
        assert finding.remedy.startswith("Upgrade the orchestration plane to Runtime 3.2-4 or later; then ")


# --- one target, one remedy ------------------------------------------------------------------------


def test_every_fixable_finding_names_the_same_target() -> None:
    releases = [*CHARTS, agent("1.3.1", date(2026, 1, 28), "3.1-9", yanked=True)]
    deployment = dep("3.1-9-python-3.12-astro-agent-1.3.1", chart="2.0.0", orch="3.1-9")
    report = judge(deployment, releases, date(2026, 8, 1))
    fixable = [f for f in report.findings if f.kind in FIXABLE]
    assert {f.kind.value for f in fixable} >= {"end_of_maintenance", "yanked_version", "chart_incompatible"}
    assert len({f.remedy for f in fixable}) == 1
    assert "1.3.1" not in fixable[0].remedy.split(":", 1)[0]  # never the running version as the move


def test_the_plan_changes_one_thing_at_a_time_through_published_images() -> None:
    releases = [
        agent("1.6.0", date(2026, 4, 16), "3.2-2"),
        Release(
            "agent",
            "1.7.0",
            date(2026, 6, 1),
            image_tags=(
                "3.2-2-python-3.11-astro-agent-1.7.0",
                "3.2-2-python-3.12-astro-agent-1.7.0",
                "3.2-4-python-3.12-astro-agent-1.7.0",
            ),
        ),
    ]
    on_311 = Deployment(name="d1", team="t", image=ImageRef.parse(ref("3.2-2-python-3.11-astro-agent-1.6.0")))
    # 1.6.0 on 3.2-2/3.11 has no published image itself in this catalog, but 1.7.0 on 3.2-2/3.11 exists
    report = judge(on_311, releases, date(2026, 6, 20))
    assert report.target.tag is not None and str(report.target.tag) == "3.2-2-python-3.11-astro-agent-1.7.0"
    assert [step.change for step in report.plan] == ["agent"]
    assert report.plan[0].text.startswith(
        "Change the agent from 1.6.0 to 1.7.0; Runtime 3.2-2 and Python 3.11"
    )


def test_wording_says_1_day_and_today() -> None:
    releases = [agent("1.3.0", date(2026, 1, 10), "3.1-9"), agent("1.5.0", date(2026, 3, 20), "3.1-9")]
    deployment = dep("3.1-9-python-3.12-astro-agent-1.3.0")
    summaries = [
        f.summary
        for day in (date(2026, 7, 9), date(2026, 7, 10), date(2026, 7, 11))
        for f in judge(deployment, releases, day).findings
        if f.kind in (FindingKind.MAINTENANCE_ENDING, FindingKind.END_OF_MAINTENANCE)
    ]
    assert "(tomorrow)" in summaries[0]
    assert "(today)" in summaries[1]
    assert "(yesterday)" in summaries[2]
    assert not any("1 days" in text or "0 days" in text for text in summaries)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


# --- found by a second, independent hand-worked review ---------------------------------------------


def test_the_last_minor_of_an_older_major_is_behind_once_the_new_major_counts() -> None:
    day7 = judge(ON_19, NEW_MAJOR, date(2026, 8, 9))
    assert day7.state is SupportState.BEHIND  # current is the newest stable minor.patch overall


def test_a_yanked_runtime_never_hides_the_blocked_target() -> None:
    releases = [
        agent("1.3.1", date(2026, 1, 28), "3.1-9"),
        agent("1.7.0", date(2026, 6, 1), "3.2-3", "3.2-4"),
        Release("runtime", "3.2-3", date(2026, 5, 1), yanked=True),
    ]
    report = judge(dep("3.1-9-python-3.12-astro-agent-1.3.1", orch="3.1-9"), releases, date(2026, 11, 1))
    assert report.target.blocked and report.target.note is None
    assert report.target.orchestration == RuntimeVersion.parse("3.2-4")  # 3.2-3 is yanked
    assert str(report.target.tag) == "3.2-4-python-3.12-astro-agent-1.7.0"


CHART_ONLY = [
    agent("1.7.0", date(2026, 6, 1), "3.2-4"),
    Release("chart", "2.0.0", date(2026, 5, 10)),
    Release("chart", "2.1.0", date(2026, 6, 5)),
]


def test_an_unseen_newest_version_still_gets_its_chart_move() -> None:
    report = judge(dep("3.2-4-python-3.12-astro-agent-1.7.1", chart="2.0.0"), CHART_ONLY, date(2026, 7, 1))
    assert kinds(report) == {"unknown_version": "warning", "chart_behind_latest": "warning"}
    assert report.target.tag is None and report.target.chart == AgentVersion.parse("2.1.0")
    assert the(report, FindingKind.CHART_BEHIND_LATEST).remedy == "Upgrade the chart from 2.0.0 to 2.1.0"


def test_a_digest_pin_of_the_running_tag_is_not_a_move_and_does_not_leak() -> None:
    catalog = Catalog.build(CHART_ONLY, policy=POLICY, today=date(2026, 7, 1))
    pinned = Deployment(
        name="d1",
        team="t",
        image=ImageRef.parse(f"{ref('3.2-4-python-3.12-astro-agent-1.7.0')}@sha256:{'b' * 64}"),
        chart_version=AgentVersion.parse("2.0.0"),
    )
    plain = dep("3.2-4-python-3.12-astro-agent-1.7.0", chart="2.0.0")
    for deployment in (pinned, plain):
        report = evaluate_one(deployment, catalog, RULES)
        assert report.target.tag is None
        assert the(report, FindingKind.CHART_BEHIND_LATEST).remedy == "Upgrade the chart from 2.0.0 to 2.1.0"


def test_a_bridge_agent_fits_the_raised_orchestration_plane_and_the_remedy_follows_the_plan() -> None:
    releases = [
        agent("1.3.0", date(2026, 1, 10), "3.1-7"),
        agent("1.5.0", date(2026, 3, 20), "3.1-9"),
        agent("1.7.0", date(2026, 6, 1), "3.2-3"),
        Release("chart", "1.5.0", date(2026, 3, 1)),
        Release("chart", "2.1.0", date(2026, 6, 5)),
    ]
    report = judge(
        dep("3.1-7-python-3.12-astro-agent-1.3.0", chart="1.5.0", orch="3.1-7"), releases, date(2026, 11, 1)
    )
    assert report.target.orchestration == RuntimeVersion.parse("3.2-3")
    # orchestration first; 1.3.0 -> 1.5.0 (both charts take it); the chart; 1.5.0 -> 1.7.0
    assert [step.change for step in report.plan] == ["orchestration", "image", *["chart"] * 4, "image"]
    assert report.plan[1].image == ref("3.1-9-python-3.12-astro-agent-1.5.0")
    assert report.plan[-1].image == ref("3.2-3-python-3.12-astro-agent-1.7.0")
    assert the(report, FindingKind.END_OF_MAINTENANCE).remedy == (
        "Upgrade the orchestration plane to Runtime 3.2-3 or later; "
        f"then move to agent 1.5.0: {ref('3.1-9-python-3.12-astro-agent-1.5.0')}; "
        "then upgrade the chart from 1.5.0 to 2.1.0 (a breaking upgrade: see the plan); "
        f"then move to agent 1.7.0: {ref('3.2-3-python-3.12-astro-agent-1.7.0')}"
    )


def test_single_changes_go_through_intermediate_published_images() -> None:
    releases = [
        agent("1.6.1", date(2026, 5, 4), "3.2-2", "3.2-3"),
        agent("1.7.0", date(2026, 11, 2), "3.2-3", "3.2-4"),
    ]
    report = judge(dep("3.2-2-python-3.12-astro-agent-1.6.1", orch="3.2-4"), releases, date(2026, 11, 2))
    assert [(step.change, step.image) for step in report.plan] == [
        ("runtime", ref("3.2-3-python-3.12-astro-agent-1.6.1")),
        ("agent", ref("3.2-3-python-3.12-astro-agent-1.7.0")),
        ("runtime", ref("3.2-4-python-3.12-astro-agent-1.7.0")),
    ]
    assert the(report, FindingKind.MAINTENANCE_ENDING).remedy == (
        f"Move to agent 1.7.0: {ref('3.2-4-python-3.12-astro-agent-1.7.0')}"
    )


def test_a_new_chart_counts_after_the_grace_period_too() -> None:
    deployment = dep("3.2-4-python-3.12-astro-agent-1.7.0", chart="2.0.0")
    assert "chart_behind_latest" not in kinds(judge(deployment, CHART_ONLY, date(2026, 6, 11)))
    assert "chart_behind_latest" in kinds(judge(deployment, CHART_ONLY, date(2026, 6, 12)))


def test_a_beta_release_has_no_maintenance_window() -> None:
    releases = [
        agent("1.7.0", date(2026, 6, 1), "3.2-4"),
        agent("1.8.0", date(2026, 6, 10), "3.2-4", channel="beta"),
    ]
    report = judge(dep("3.2-4-python-3.12-astro-agent-1.8.0"), releases, date(2026, 6, 20))
    assert not report.open_ended and report.end_of_maintenance is None
    assert report.nominal_end_of_maintenance is None
    assert report.state is SupportState.BEHIND
    assert Catalog.build(releases, policy=POLICY, today=date(2026, 6, 20)).windows.keys() == {(1, 7)}


def test_an_unknown_orchestration_plane_is_checked_before_the_runtime_rises() -> None:
    releases = [agent("1.5.0", date(2026, 3, 20), "3.1-9"), agent("1.7.0", date(2026, 6, 1), "3.2-4")]
    report = judge(dep("3.1-9-python-3.12-astro-agent-1.5.0"), releases, date(2026, 10, 1))
    assert report.plan[0].change == "orchestration"
    assert "runs Runtime 3.2-4 or later" in report.plan[0].text
    assert report.plan[-1].image == ref("3.2-4-python-3.12-astro-agent-1.7.0")
    # the remedy names the target; the precaution lives in the plan
    assert the(report, FindingKind.END_OF_MAINTENANCE).remedy == (
        f"Move to agent 1.7.0: {ref('3.2-4-python-3.12-astro-agent-1.7.0')}"
    )
