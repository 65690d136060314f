"""Invariants of the target over generated catalogs and deployments (hypothesis).

The target never names a yanked, pre-release or non-stable version, never a Runtime above
the orchestration plane's (a blocked target names the Runtime to reach first instead), never
the running image when a finding asks to move; and moving to it clears every fixable warning
and critical finding (the fixed point), so every fixable finding can name it as the remedy.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet

from supportwatch.catalog import Catalog
from supportwatch.checks import evaluate_one, raw_findings
from supportwatch.compatibility import ChartUpgrade, CompatRule, Incompatibility, Rules
from supportwatch.policy import MaintenancePolicy
from supportwatch.target import FIXABLE, fixable
from supportwatch.values import Deployment, Release
from supportwatch.versions import AgentVersion, ImageRef, ImageTag, RuntimeVersion

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
START = date(2025, 1, 1)
RUNTIMES = ("3.0-1", "3.0-2", "3.1-7", "3.1-9", "3.2-2", "3.2-4", "3.3-1")
PYTHONS = ("3.11", "3.12")
RULES = Rules(
    compatibility=(
        CompatRule(SpecifierSet("==1.5.0"), (SpecifierSet("==1.3.0"), SpecifierSet("==1.5.0"))),
        CompatRule(SpecifierSet(">=2.0.0"), (SpecifierSet(">=1.5.0"),)),
    ),
    incompatibilities=(Incompatibility(RuntimeVersion.parse("3.0-1"), RuntimeVersion.parse("3.0-2")),),
    chart_upgrades=(ChartUpgrade(AgentVersion.parse("2.0.0"), ("Convert values",)),),
)


@st.composite
def agent_releases(draw: st.DrawFn) -> Release:
    major = draw(st.sampled_from([1, 1, 1, 2]))
    minor, patch = draw(st.integers(0, 7)), draw(st.integers(0, 3))
    pre = draw(st.sampled_from(["", "", "", "", "-rc1"]))
    version = f"{major}.{minor}.{patch}{pre}"
    runtimes = draw(
        st.lists(
            st.sampled_from(RUNTIMES), min_size=draw(st.sampled_from([0, 1, 1, 1])), max_size=3, unique=True
        )
    )
    pythons = draw(st.lists(st.sampled_from(PYTHONS), min_size=1, max_size=2, unique=True))
    base = draw(st.booleans())
    tags = tuple(
        f"{runtime}-python-{py}-astro-agent-{version}{suffix}"
        for runtime in runtimes
        for py in pythons
        for suffix in ("", "-base")[: 2 if base else 1]
    )
    return Release(
        "agent",
        version,
        START + timedelta(days=draw(st.integers(0, 700))),
        image_tags=tags,
        channel=draw(st.sampled_from(["stable"] * 8 + ["beta"])),
        yanked=draw(st.integers(0, 9)) == 0,
    )


charts = st.lists(
    st.builds(
        lambda version, day: Release("chart", version, START + timedelta(days=day)),
        st.sampled_from(["1.5.0", "2.0.0", "2.1.0", "2.3.3"]),
        st.integers(0, 700),
    ),
    max_size=4,
    unique_by=lambda release: release.version,
)


@st.composite
def deployments(draw: st.DrawFn, releases: list[Release]) -> Deployment:
    known = [tag for release in releases for tag in release.image_tags]
    runtime = draw(st.sampled_from(RUNTIMES))
    made_up = draw(
        st.sampled_from(
            [
                f"{runtime}-python-3.12-astro-agent-1.{draw(st.integers(0, 7))}.{draw(st.integers(0, 5))}",
                f"{runtime}-python-3.12",
                f"{runtime}-base",
            ]
        )
    )
    use_known = bool(known) and draw(st.booleans())
    tag = draw(st.sampled_from(known)) if use_known else made_up
    chart = draw(st.sampled_from([None, "1.5.0", "2.0.0", "2.1.0"]))
    orch = draw(st.sampled_from([None, *RUNTIMES]))
    digest = f"@sha256:{'c' * 64}" if draw(st.integers(0, 4)) == 0 else ""
    return Deployment(
        name="d",
        team="t",
        image=ImageRef.parse(f"{REPO}:{tag}{digest}"),
        chart_version=AgentVersion.parse(chart) if chart else None,
        orchestration_runtime=RuntimeVersion.parse(orch) if orch else None,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Release], Deployment, date, bool]:
    agents = draw(st.lists(agent_releases(), min_size=1, max_size=12, unique_by=lambda r: r.version))
    runtimes = [
        Release("runtime", runtime, START, yanked=draw(st.integers(0, 5)) == 0)
        for runtime in RUNTIMES
        if draw(st.booleans())
    ]
    releases = agents + draw(charts) + runtimes
    today = START + timedelta(days=draw(st.integers(200, 1000)))
    return releases, draw(deployments(agents)), today, draw(st.booleans())


def _moved(
    deployment: Deployment, tag: ImageTag | None, chart: AgentVersion | None, orch: RuntimeVersion | None
) -> Deployment:
    image = ImageRef(deployment.image.repository, tag, None) if tag is not None else deployment.image
    return replace(
        deployment,
        image=image,
        chart_version=chart or deployment.chart_version,
        orchestration_runtime=orch or deployment.orchestration_runtime,
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(cases())
def test_the_target_is_stable_fitting_and_a_fixed_point(
    case: tuple[list[Release], Deployment, date, bool],
) -> None:
    releases, deployment, today, latest_supported = case
    policy = MaintenancePolicy(id="p", wording="", latest_minor_supported=latest_supported)
    catalog = Catalog.build(releases, policy=policy, today=today)
    report = evaluate_one(deployment, catalog, RULES)
    target = report.target
    asked = fixable(report.findings)

    if target.tag is not None:
        assert target.agent is not None
        assert target.tag.runtime not in catalog.yanked
        item = catalog.agents[target.agent]
        assert item.recommendable and not target.agent.is_prerelease and item.channel == "stable"
        ceiling = target.orchestration or deployment.orchestration_runtime
        assert ceiling is None or target.tag.runtime <= ceiling
        assert target.tag != deployment.image.tag or deployment.image.digest
    if target.orchestration is not None:
        assert deployment.orchestration_runtime is not None
        assert target.orchestration > deployment.orchestration_runtime
    if not asked:
        assert not target.moves and target.note is None
    elif target.note is None:
        assert target.moves
    event("target: " + ("blocked" if target.blocked else "moves" if target.moves else "stays"))
    event("note" if target.note else "no note")
    if target.moves and target.note is None:
        moved = _moved(deployment, target.tag, target.chart, target.orchestration)
        left = fixable(raw_findings(moved, catalog, RULES))
        assert left == [], (report.findings, target, left)
    images = [step.image for step in report.plan if step.image is not None]
    if target.tag is not None and not (deployment.image.tag and deployment.image.tag == target.tag):
        assert images and images[-1] == f"{REPO}:{target.tag}"
    ceiling = target.orchestration or deployment.orchestration_runtime
    for image in images:
        step_tag = ImageRef.parse(image).tag
        assert step_tag is not None and (ceiling is None or step_tag.runtime <= ceiling)
    remedies = {f.remedy.removeprefix("Pin a fixed tag. ") for f in report.findings if f.kind in FIXABLE}
    assert len(remedies) <= 1, remedies
