"""The one state a deployment should move to — pure.

Chosen like the vendor's CLI: stable, non-yanked releases only; a fixed tag in the
deployment's base flavour, its Python when such a tag exists, a Runtime no newer than the
orchestration plane's; then the *smallest move* that clears every fixable warning and critical
finding (``FIXABLE``). Candidates are tried in order: the running agent's own minor (newest
patch first), then each newer minor in turn (the current major before a newer one), and only
for a yanked, pre-release or non-stable version the stable minors below it. Each candidate is
evaluated with the same checks as the deployment itself, so moving to the target and
evaluating again leaves no fixable finding (the fixed point) — by construction.

When no image within the orchestration plane's Runtime clears the findings, the target is
*blocked*: it names the Runtime the orchestration plane must reach first (``orchestration``)
and the image that then fits. A chart is never moved down, and a chart is chosen only if the
compatibility matrix admits the candidate agent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from supportwatch.catalog import Catalog
from supportwatch.compatibility import Rules, chart_admits, incompatible
from supportwatch.policy import reminder_rung
from supportwatch.remedy import best_tag, lowest_tag_above, pinned_equivalent
from supportwatch.values import Deployment, Finding, FindingKind, Severity
from supportwatch.versions import AgentVersion, ImageRef, ImageTag, PythonVersion, RuntimeVersion

FIXABLE: frozenset[FindingKind] = frozenset(
    {
        FindingKind.END_OF_MAINTENANCE,
        FindingKind.MAINTENANCE_ENDING,
        FindingKind.BEHIND_LATEST_PATCH,
        FindingKind.BEHIND_LATEST_MINOR,
        FindingKind.CHART_INCOMPATIBLE,
        FindingKind.CHART_BEHIND_LATEST,
        FindingKind.RUNTIME_SKEW,
        FindingKind.KNOWN_INCOMPATIBILITY,
        FindingKind.FLOATING_TAG,
        FindingKind.YANKED_VERSION,
        FindingKind.PRERELEASE_VERSION,
    }
)
"""Finding kinds a move of image or chart can clear (not: unknown versions, RHEL, info)."""

Evaluate = Callable[[Deployment, str], Sequence[Finding]]
"""``evaluate(deployment, part)``: the raw findings of the ``"image"`` checks (all but the
chart's), of the ``"chart"`` checks, or of ``"all"``."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to go: a fixed tag and a chart (None where the current one is right).

    ``orchestration`` is set when the target is blocked: the orchestration plane must first
    reach that Runtime, and ``tag`` is the image that fits afterwards. ``note`` says why no
    move is named, or which findings the best known move still leaves.
    """

    tag: ImageTag | None = None
    chart: AgentVersion | None = None
    orchestration: RuntimeVersion | None = None
    note: str | None = None

    @property
    def agent(self) -> AgentVersion | None:
        return self.tag.agent if self.tag is not None else None

    @property
    def blocked(self) -> bool:
        return self.orchestration is not None

    @property
    def moves(self) -> bool:
        return self.tag is not None or self.chart is not None or self.orchestration is not None


STAY = Target()


def fixable(findings: Sequence[Finding]) -> list[Finding]:
    """The warning and critical findings a move can clear."""
    return [f for f in findings if f.kind in FIXABLE and f.severity is not Severity.INFO]


def choose_target(
    deployment: Deployment,
    catalog: Catalog,
    rules: Rules,
    evaluate: Evaluate,
    findings: tuple[Sequence[Finding], Sequence[Finding]],
) -> Target:
    """The single target for ``deployment``, whose image and chart findings (``evaluate``'s
    two parts) are ``findings``."""
    image_findings, chart_findings = fixable(findings[0]), fixable(findings[1])
    if not image_findings and not chart_findings:
        return STAY
    key = ("target", deployment.image.tag, deployment.chart_version, deployment.orchestration_runtime)
    if key not in catalog.memo:
        # staying on the running image is the first candidate: its findings are known already
        tag = deployment.image.tag
        if tag is not None and tag.fixed:
            catalog.memo.setdefault(("left-image", tag, deployment.orchestration_runtime), image_findings)
            if deployment.chart_version is not None:
                catalog.memo.setdefault(("left-chart", deployment.chart_version, tag.agent), chart_findings)
        catalog.memo[key] = _search(deployment, catalog, rules, evaluate)
    result: Target = catalog.memo[key]
    return result


@dataclass(frozen=True, slots=True)
class _Candidate:
    tag: ImageTag
    chart: AgentVersion | None
    orchestration: RuntimeVersion | None


def _search(deployment: Deployment, catalog: Catalog, rules: Rules, evaluate: Evaluate) -> Target:
    tried: list[tuple[tuple[int, int], int, _Candidate]] = []
    for index, candidate in enumerate(_candidates(deployment, catalog, rules)):
        left = _left_after(candidate, deployment, catalog, evaluate)
        if not left:
            return _target(deployment, candidate)
        tried.append((_weight(left), index, candidate))
    if not tried:
        return Target(note=_nothing_clears(catalog))
    weight, _, best = min(tried, key=lambda item: (item[0], item[1]))
    if weight >= _weight(fixable(evaluate(deployment, "all"))):
        return Target(note=_nothing_clears(catalog))
    kinds = ", ".join(sorted({f.kind.value for f in _left_after(best, deployment, catalog, evaluate)}))
    return replace(_target(deployment, best), note=f"the best known move still leaves: {kinds}")


def _nothing_clears(catalog: Catalog) -> str:
    if not any(tag.fixed for agent in catalog.recommendable_agents() for tag in catalog.tags_of(agent)):
        return "no stable agent release with a fixed image tag is known yet; run `supportwatch poll`"
    return "no known release clears these findings; run `supportwatch poll` for newer ones"


def _weight(findings: Sequence[Finding]) -> tuple[int, int]:
    return (sum(f.severity is Severity.CRITICAL for f in findings), len(findings))


def _target(deployment: Deployment, candidate: _Candidate) -> Target:
    # a digest pin of the same fixed tag is the same image: nothing to move
    tag = None if candidate.tag == deployment.image.tag else candidate.tag
    chart = None if candidate.chart == deployment.chart_version else candidate.chart
    raised = candidate.orchestration != deployment.orchestration_runtime
    return Target(tag=tag, chart=chart, orchestration=candidate.orchestration if raised else None)


def _left_after(
    candidate: _Candidate, deployment: Deployment, catalog: Catalog, evaluate: Evaluate
) -> list[Finding]:
    # the chart checks depend on the chart and the agent only, the others not on the chart:
    # evaluated apart, each half is shared by far more candidates
    memo = catalog.memo
    image_key = ("left-image", candidate.tag, candidate.orchestration)
    image_left = memo.get(image_key)
    if image_left is None:
        image = ImageRef(deployment.image.repository, candidate.tag, None)
        moved = Deployment(deployment.name, deployment.team, image, None, candidate.orchestration)
        image_left = memo[image_key] = fixable(evaluate(moved, "image"))
    if candidate.chart is None:
        return image_left
    chart_key = ("left-chart", candidate.chart, candidate.tag.agent)
    chart_left = memo.get(chart_key)
    if chart_left is None:
        image = ImageRef(deployment.image.repository, candidate.tag, None)
        moved = Deployment(deployment.name, deployment.team, image, candidate.chart, None)
        chart_left = memo[chart_key] = fixable(evaluate(moved, "chart"))
    return image_left + chart_left if chart_left else image_left


def _candidates(deployment: Deployment, catalog: Catalog, rules: Rules) -> Iterator[_Candidate]:
    """Every move worth evaluating, smallest first (see ``_image_moves``), each with its chart."""
    current_chart = deployment.chart_version
    for tag, orchestration in _image_moves(
        deployment.image.tag, deployment.orchestration_runtime, catalog, rules
    ):
        assert tag.agent is not None
        for chart in _chart_for(current_chart, tag.agent, catalog, rules):
            yield _Candidate(tag, chart, orchestration)


def _image_moves(
    tag: ImageTag | None, ceiling: RuntimeVersion | None, catalog: Catalog, rules: Rules
) -> Iterator[tuple[ImageTag, RuntimeVersion | None]]:
    """The images to try, smallest move first, each with the orchestration Runtime it needs: the
    running image itself (for a chart or an orchestration-only move), then each agent that may be
    clean in order, within the ceiling (memoised: cheap and most often enough), then above it;
    last, the newest agents, for a best effort when nothing is clean (lazy: rarely reached)."""
    key = ("moves-within", tag, ceiling)
    within = catalog.memo.get(key)
    if within is None:
        within = catalog.memo[key] = list(_moves_within(tag, ceiling, catalog, rules))
    yield from within
    yield from _moves_beyond(tag, ceiling, catalog, rules)


def _moves_within(
    tag: ImageTag | None, ceiling: RuntimeVersion | None, catalog: Catalog, rules: Rules
) -> Iterator[tuple[ImageTag, RuntimeVersion | None]]:
    own, python, base, _, agents = _setup(tag, catalog)
    if own is not None and (ceiling is None or own.runtime <= ceiling):
        yield own, ceiling
    for agent in agents:
        fit = _fit(catalog, rules, agent, python=python, base=base, ceiling=ceiling)
        if fit is not None:
            yield fit, ceiling


def _moves_beyond(
    tag: ImageTag | None, ceiling: RuntimeVersion | None, catalog: Catalog, rules: Rules
) -> Iterator[tuple[ImageTag, RuntimeVersion | None]]:
    own, python, base, ordered, agents = _setup(tag, catalog)
    if ceiling is not None:
        if own is not None and own.runtime > ceiling:
            yield own, own.runtime
        for agent in agents:
            above = _above(catalog, rules, agent, python=python, base=base, floor=ceiling)
            if above is not None:
                yield above, above.runtime
    for agent in _fallbacks(catalog, ordered):
        fit = _fit(catalog, rules, agent, python=python, base=base, ceiling=ceiling)
        if fit is not None:
            yield fit, ceiling


_Setup = tuple[ImageTag | None, "PythonVersion | None", bool, list[AgentVersion], list[AgentVersion]]


def _setup(tag: ImageTag | None, catalog: Catalog) -> _Setup:
    """What the move search needs about the running tag (memoised per tag)."""
    return catalog.remember(("moves-setup", tag), lambda: _compute_setup(tag, catalog))


def _compute_setup(tag: ImageTag | None, catalog: Catalog) -> _Setup:
    own = tag if tag is not None and tag.fixed else None
    ordered, agents = _agent_orders(catalog, _origin(tag, catalog))
    python = tag.python if tag is not None else None
    return (own, python, tag.base if tag is not None else False, ordered, agents)


def _above(
    catalog: Catalog,
    rules: Rules,
    agent: AgentVersion,
    *,
    python: PythonVersion | None,
    base: bool,
    floor: RuntimeVersion,
) -> ImageTag | None:
    return catalog.remember(
        ("above", agent, python, base, floor),
        lambda: lowest_tag_above(
            catalog.tags_of(agent),
            python=python,
            base=base,
            floor=floor,
            exclude=_bad_runtimes(catalog, rules, None, agent),
        ),
    )


def _agent_orders(catalog: Catalog, origin: _Origin) -> tuple[list[AgentVersion], list[AgentVersion]]:
    """The agent order from ``origin``, and the agents in it that may be clean (memoised)."""

    def compute() -> tuple[list[AgentVersion], list[AgentVersion]]:
        ordered = _agent_order(catalog, origin)
        return ordered, [agent for agent in ordered if _may_be_clean(agent, catalog)]

    return catalog.remember(("agent-order", origin), compute)


def _fit(
    catalog: Catalog,
    rules: Rules,
    agent: AgentVersion,
    *,
    python: PythonVersion | None,
    base: bool,
    ceiling: RuntimeVersion | None,
) -> ImageTag | None:
    return catalog.remember(
        ("fit", agent, python, base, ceiling),
        lambda: best_tag(
            catalog.tags_of(agent),
            python=python,
            base=base,
            max_runtime=ceiling,
            exclude=_bad_runtimes(catalog, rules, ceiling, agent),
        ),
    )


def _may_be_clean(agent: AgentVersion, catalog: Catalog) -> bool:
    """Whether moving to ``agent`` can leave no maintenance or behind-latest finding: maintained,
    no reminder due, and the newest counted patch of its minor and minor of its major (the same
    rules as the checks; a cheap filter before evaluating a candidate)."""
    key = ("may-be-clean", agent)
    return catalog.remember(key, lambda: _clean_by_rules(agent, catalog))


def _clean_by_rules(agent: AgentVersion, catalog: Catalog) -> bool:
    maintenance = catalog.maintenance(agent.minor_key)
    if maintenance is None or not maintenance.maintained_on(catalog.today):
        return False
    left = maintenance.days_left(catalog.today)
    if left is not None and reminder_rung(left, catalog.policy.reminder_days) is not None:
        return False
    grace = catalog.policy.behind_grace_days
    patch = catalog.newest_agent(major=agent.major, minor=agent.minor, grace_days=grace)
    minor = catalog.newest_agent(major=agent.major, grace_days=grace)
    return (patch is None or patch <= agent) and (minor is None or minor.minor_key <= agent.minor_key)


def _fallbacks(catalog: Catalog, ordered: Sequence[AgentVersion]) -> list[AgentVersion]:
    """For a best effort: the newest agent of each major the order reaches, newest first."""
    majors = sorted({agent.major for agent in ordered}, reverse=True)
    newest = [catalog.newest_agent(major=major) for major in majors]
    return [agent for agent in newest if agent is not None]


def _chart_for(
    current: AgentVersion | None, agent: AgentVersion, catalog: Catalog, rules: Rules
) -> list[AgentVersion | None]:
    """The newest chart at or above ``current`` that admits ``agent`` (none if no chart does)."""
    if current is None:
        return [None]
    key = ("chart-for", current, agent)
    return catalog.remember(key, lambda: _charts_admitting(current, agent, catalog, rules))


def _charts_admitting(
    current: AgentVersion, agent: AgentVersion, catalog: Catalog, rules: Rules
) -> list[AgentVersion | None]:
    newest = catalog.newest_chart_admitting(rules, agent)  # memoised per agent
    if newest is not None and newest >= current:
        return [newest]
    return [current] if chart_admits(rules, current, agent) is not False else []


def _bad_runtimes(
    catalog: Catalog, rules: Rules, orchestration: RuntimeVersion | None, agent: AgentVersion
) -> frozenset[RuntimeVersion]:
    """Runtimes never to move to: yanked ones, and those a known incompatibility forbids."""
    yanked = {item for item in catalog.yanked if isinstance(item, RuntimeVersion)}
    if orchestration is not None:
        for tag in catalog.tags_of(agent):
            if incompatible(rules, tag.runtime, orchestration, agent) is not None:
                yanked.add(tag.runtime)
    return frozenset(yanked)


@dataclass(frozen=True, slots=True)
class _Origin:
    agent: AgentVersion | None
    good: bool  # a stable, non-yanked release (or an unseen patch): never move below it


def _origin(tag: ImageTag | None, catalog: Catalog) -> _Origin:
    if tag is None:
        return _Origin(None, True)
    if tag.agent is None:
        pinned = pinned_equivalent(tag, catalog)
        return _Origin(pinned.agent if pinned is not None else None, True)
    item = catalog.agents.get(tag.agent)
    good = not tag.agent.is_prerelease and (item is None or item.recommendable)
    return _Origin(tag.agent, good)


def _agent_order(catalog: Catalog, origin: _Origin) -> list[AgentVersion]:
    """Own minor newest first, then each newer minor (newest patch first), then, for a bad
    origin only, the stable minors below it (newest first)."""
    by_minor = _by_minor(catalog)
    if origin.agent is None:
        return by_minor
    own_minor = origin.agent.minor_key
    own = [v for v in by_minor if v.minor_key == own_minor and (not origin.good or v >= origin.agent)]
    newer = [v for v in by_minor if v.minor_key > own_minor]
    lower = [] if origin.good else [v for v in catalog.recommendable_agents() if v.minor_key < own_minor]
    return own + newer + lower


def _by_minor(catalog: Catalog) -> list[AgentVersion]:
    """Recommendable agents by minor, oldest minor first, each minor's newest patch first."""
    key = "agents-by-minor"
    return catalog.remember(
        key, lambda: sorted(catalog.recommendable_agents(), key=lambda v: (v.minor_key, -v.patch))
    )
