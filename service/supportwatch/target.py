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
from supportwatch.models import Deployment, Finding, FindingKind, Severity
from supportwatch.remedy import best_tag, lowest_tag_above, pinned_equivalent
from supportwatch.versions import AgentVersion, ImageRef, ImageTag, RuntimeVersion

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

Evaluate = Callable[[Deployment], Sequence[Finding]]


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
_NOTHING_CLEARS = "no known release clears these findings; run `supportwatch poll` for newer ones"


def fixable(findings: Sequence[Finding]) -> list[Finding]:
    """The warning and critical findings a move can clear."""
    return [f for f in findings if f.kind in FIXABLE and f.severity.rank >= Severity.WARNING.rank]


def choose_target(
    deployment: Deployment, catalog: Catalog, rules: Rules, evaluate: Evaluate, findings: Sequence[Finding]
) -> Target:
    """The single target for ``deployment``, whose findings (from ``evaluate``) are ``findings``."""
    if not fixable(findings):
        return STAY
    key = ("target", deployment.image.tag, deployment.chart_version, deployment.orchestration_runtime)
    if key not in catalog.memo:
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
    if not tried and not any(tag.fixed for a in catalog.recommendable_agents() for tag in catalog.tags_of(a)):
        return Target(
            note="no stable agent release with a fixed image tag is known yet; run `supportwatch poll`"
        )
    if not tried:
        return Target(note=_NOTHING_CLEARS)
    weight, _, best = min(tried, key=lambda item: (item[0], item[1]))
    if weight >= _weight(fixable(evaluate(deployment))):
        return Target(note=_NOTHING_CLEARS)
    kinds = ", ".join(sorted({f.kind.value for f in _left_after(best, deployment, catalog, evaluate)}))
    return replace(_target(deployment, best), note=f"the best known move still leaves: {kinds}")


def _weight(findings: Sequence[Finding]) -> tuple[int, int]:
    return (sum(f.severity is Severity.CRITICAL for f in findings), len(findings))


def _target(deployment: Deployment, candidate: _Candidate) -> Target:
    tag = None if candidate.tag == deployment.image.tag and not deployment.image.digest else candidate.tag
    chart = None if candidate.chart == deployment.chart_version else candidate.chart
    raised = candidate.orchestration != deployment.orchestration_runtime
    return Target(tag=tag, chart=chart, orchestration=candidate.orchestration if raised else None)


def _left_after(
    candidate: _Candidate, deployment: Deployment, catalog: Catalog, evaluate: Evaluate
) -> list[Finding]:
    key = ("left", candidate, deployment.image.repository)
    if key not in catalog.memo:
        moved = Deployment(
            name=deployment.name,
            team=deployment.team,
            image=ImageRef(deployment.image.repository, candidate.tag, None),
            chart_version=candidate.chart,
            orchestration_runtime=candidate.orchestration,
        )
        catalog.memo[key] = fixable(evaluate(moved))
    result: list[Finding] = catalog.memo[key]
    return result


def _candidates(deployment: Deployment, catalog: Catalog, rules: Rules) -> Iterator[_Candidate]:
    """Every move worth evaluating, smallest first; within the ceiling, then above it."""
    tag = deployment.image.tag
    origin = _origin(deployment, catalog)
    python = tag.python if tag is not None else None
    base = tag.base if tag is not None else False
    ceiling = deployment.orchestration_runtime
    agents = _agent_order(catalog, origin)
    if tag is not None and tag.fixed and tag.agent in catalog.agents:
        yield from _with_chart(tag, deployment, catalog, rules, ceiling)
    for agent in agents:
        bad = _bad_runtimes(catalog, rules, ceiling, agent)
        fit = best_tag(catalog.tags_of(agent), python=python, base=base, max_runtime=ceiling, exclude=bad)
        if fit is not None:
            yield from _with_chart(fit, deployment, catalog, rules, ceiling)
    if ceiling is None:
        return
    for agent in agents:
        above = lowest_tag_above(catalog.tags_of(agent), python=python, base=base, floor=ceiling)
        if above is not None:
            yield from _with_chart(above, deployment, catalog, rules, above.runtime)


def _with_chart(
    tag: ImageTag,
    deployment: Deployment,
    catalog: Catalog,
    rules: Rules,
    orchestration: RuntimeVersion | None,
) -> Iterator[_Candidate]:
    assert tag.agent is not None
    for chart in _chart_for(deployment.chart_version, tag.agent, catalog, rules):
        yield _Candidate(tag, chart, orchestration)


def _chart_for(
    current: AgentVersion | None, agent: AgentVersion, catalog: Catalog, rules: Rules
) -> list[AgentVersion | None]:
    """The newest chart at or above ``current`` that admits ``agent`` (none if no chart does)."""
    if current is None:
        return [None]
    options = [
        item.version
        for item in catalog.charts.values()
        if item.recommendable
        and item.version >= current
        and chart_admits(rules, item.version, agent) is not False
    ]
    if chart_admits(rules, current, agent) is not False:
        options.append(current)
    return [max(options)] if options else []


def _bad_runtimes(
    catalog: Catalog, rules: Rules, orchestration: RuntimeVersion | None, agent: AgentVersion
) -> frozenset[RuntimeVersion]:
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


def _origin(deployment: Deployment, catalog: Catalog) -> _Origin:
    tag = deployment.image.tag
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
    stable = catalog.recommendable_agents()  # newest first
    if origin.agent is None:
        return sorted(stable, key=lambda v: (v.minor_key, -v.patch))
    own_minor = origin.agent.minor_key
    own = [v for v in stable if v.minor_key == own_minor and (not origin.good or v >= origin.agent)]
    newer = sorted((v for v in stable if v.minor_key > own_minor), key=lambda v: (v.minor_key, -v.patch))
    lower = [] if origin.good else [v for v in stable if v.minor_key < own_minor]
    return own + newer + lower
