"""The plan: ordered single-change steps from a deployment to its target — pure.

As the vendor recommends, the agent version, the Runtime version and the Python version are
changed one at a time (through images that exist; where none changes only one of them, the
step says which change together), the orchestration plane is upgraded before the execution
plane when the Runtime must rise past it, and a chart upgrade goes where the compatibility
matrix admits the agent running at that moment: before the agent moves when the new chart
admits the old agent, after it when the old chart admits the new agent, else around a bridge
agent both charts admit. A breaking chart upgrade lists the configured steps in full, with the
deployment's namespace and Helm release filled in when it names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supportwatch.catalog import Catalog
from supportwatch.compatibility import Rules, chart_admits
from supportwatch.models import Deployment
from supportwatch.remedy import best_tag, pinned_equivalent, tag_reference
from supportwatch.target import Target
from supportwatch.versions import AgentVersion, ImageTag

CHART_REPO = "astronomer/astro-remote-execution-agent"


@dataclass(frozen=True, slots=True)
class Step:
    """One change: ``change`` is what changes (orchestration, pin, agent, runtime, python,
    image, chart); ``image`` / ``chart_version`` are what the deployment runs after it."""

    change: str
    text: str
    image: str | None = None
    chart_version: str | None = None


def plan_steps(deployment: Deployment, target: Target, catalog: Catalog, rules: Rules) -> tuple[Step, ...]:
    """The ordered steps from ``deployment`` to ``target`` (empty when nothing moves)."""
    if not target.moves:
        return ()
    steps: list[Step] = []
    if target.orchestration is not None:
        steps.append(
            Step(
                "orchestration",
                f"Upgrade the orchestration plane (the Astro Deployment) to Runtime {target.orchestration} "
                "or later, before the execution plane",
            )
        )
    start = _start(deployment, catalog, target, steps)
    final = target.tag or start
    chart = target.chart
    if chart is None or deployment.chart_version is None:
        return (*steps, *_image_steps(deployment, start, final, catalog))
    agent_now = start.agent if start is not None else None
    final_agent = final.agent if final is not None else None
    if agent_now is None or chart_admits(rules, chart, agent_now) is not False:
        return (
            *steps,
            *_chart_steps(deployment, chart, rules),
            *_image_steps(deployment, start, final, catalog),
        )
    if final_agent is None or chart_admits(rules, deployment.chart_version, final_agent) is not False:
        return (
            *steps,
            *_image_steps(deployment, start, final, catalog),
            *_chart_steps(deployment, chart, rules),
        )
    bridge = _bridge(deployment, start=start, final=final, chart=chart, catalog=catalog, rules=rules)
    return (
        *steps,
        *_image_steps(deployment, start, bridge, catalog),
        *_chart_steps(deployment, chart, rules),
        *_image_steps(deployment, bridge, final, catalog),
    )


def chart_first(plan: tuple[Step, ...]) -> bool:
    """Whether the plan changes the chart before it changes the image."""
    changes = [step.change for step in plan if step.change != "orchestration"]
    if "chart" not in changes:
        return False
    images = [index for index, change in enumerate(changes) if change != "chart"]
    return not images or changes.index("chart") < images[0]


def _start(deployment: Deployment, catalog: Catalog, target: Target, steps: list[Step]) -> ImageTag | None:
    """The fixed tag the image steps start from; a floating tag is pinned first."""
    tag = deployment.image.tag
    if tag is not None and tag.fixed:
        return tag
    pinned = pinned_equivalent(tag, catalog) if tag is not None else None
    if pinned is None or pinned == target.tag:
        return None
    shown = str(tag) if tag is not None else f"@{deployment.image.digest}"
    ref = tag_reference(deployment, pinned)
    steps.append(
        Step("pin", f"Pin the floating tag {shown} to the fixed tag it points to now: {ref}", image=ref)
    )
    return pinned


_DIMENSIONS = ("agent", "runtime", "python")


def _image_steps(
    deployment: Deployment, start: ImageTag | None, final: ImageTag | None, catalog: Catalog
) -> list[Step]:
    if final is None or start == final:
        return []
    if start is None:
        ref = tag_reference(deployment, final)
        return [Step("image", f"Deploy {ref} (agent {final.agent})", image=ref)]
    changed = [dim for dim in _DIMENSIONS if _value(start, dim) != _value(final, dim)]
    path = _longest_path(start, final, changed, catalog)
    steps = []
    current = start
    for group in path:
        nxt = _with(current, final, group)
        ref = tag_reference(deployment, nxt)
        steps.append(
            Step(group[0] if len(group) == 1 else "image", _step_text(current, nxt, group, ref), image=ref)
        )
        current = nxt
    return steps


def _value(tag: ImageTag, dim: str) -> object:
    return {"agent": tag.agent, "runtime": tag.runtime, "python": tag.python}[dim]


def _with(tag: ImageTag, final: ImageTag, dims: tuple[str, ...]) -> ImageTag:
    return ImageTag(
        runtime=final.runtime if "runtime" in dims else tag.runtime,
        python=final.python if "python" in dims else tag.python,
        agent=final.agent if "agent" in dims else tag.agent,
        base=tag.base,
    )


def _longest_path(
    start: ImageTag, final: ImageTag, changed: list[str], catalog: Catalog
) -> list[tuple[str, ...]]:
    """The groups of dimensions to change, in order, through images that exist: as many
    single changes as the published images allow (the last image is the target itself)."""
    full = frozenset(changed)
    best: dict[frozenset[str], list[tuple[str, ...]]] = {frozenset(): []}
    for size in range(1, len(changed) + 1):
        for done in _subsets(changed, size):
            if done != full and not _exists(_with(start, final, tuple(done)), catalog):
                continue
            options = [
                [*best[before], tuple(d for d in _DIMENSIONS if d in done - before)]
                for before in best
                if before < done
            ]
            if options:
                best[done] = max(options, key=len)
    return best.get(full, [tuple(changed)])


def _subsets(items: list[str], size: int) -> list[frozenset[str]]:
    if size == 0:
        return [frozenset()]
    return [
        frozenset({item}) | rest
        for index, item in enumerate(items)
        for rest in _subsets(items[index + 1 :], size - 1)
    ]


def _exists(tag: ImageTag, catalog: Catalog) -> bool:
    return tag.agent is not None and tag in catalog.tags_of(tag.agent)


def _step_text(before: ImageTag, after: ImageTag, dims: tuple[str, ...], ref: str) -> str:
    moves = [f"{_label(dim)} from {_value(before, dim)} to {_value(after, dim)}" for dim in dims]
    kept = [f"{_label(dim)} {_value(after, dim)}" for dim in _DIMENSIONS if dim not in dims]
    together = " together (no published image changes only one of them)" if len(dims) > 1 else ""
    unchanged = f"; {' and '.join(kept)} unchanged" if kept else ""
    return f"Change the {' and the '.join(moves)}{together}{unchanged}: deploy {ref}"


def _label(dim: str) -> str:
    return {"agent": "agent", "runtime": "Runtime", "python": "Python"}[dim]


def _bridge(
    deployment: Deployment,
    *,
    start: ImageTag | None,
    final: ImageTag | None,
    chart: AgentVersion,
    catalog: Catalog,
    rules: Rules,
) -> ImageTag | None:
    """An image whose agent both the current and the target chart admit (newest first)."""
    current_chart = deployment.chart_version
    assert current_chart is not None
    like = start or final
    for agent in catalog.recommendable_agents():
        if chart_admits(rules, current_chart, agent) is False or chart_admits(rules, chart, agent) is False:
            continue
        fit = best_tag(
            catalog.tags_of(agent),
            python=like.python if like else None,
            base=like.base if like else False,
            max_runtime=deployment.orchestration_runtime,
        )
        if fit is not None:
            return fit
    return start


def _chart_steps(deployment: Deployment, chart: AgentVersion, rules: Rules) -> list[Step]:
    current = deployment.chart_version
    assert current is not None
    namespace = deployment.namespace or "<namespace>"
    release = deployment.helm_release or "<release>"
    crossing = [u for u in rules.chart_upgrades if current < u.to <= chart and current.major < u.to.major]
    if crossing:
        upgrade = min(crossing, key=lambda u: u.to)
        return [
            Step(
                "chart",
                f"Chart {current} -> {chart}, breaking upgrade step {index} of {len(upgrade.steps)}: "
                + _fill(text, namespace=namespace, release=release, version=str(chart), chart=CHART_REPO),
                chart_version=str(chart) if index == len(upgrade.steps) else None,
            )
            for index, text in enumerate(upgrade.steps, start=1)
        ]
    return [
        Step(
            "chart",
            f"Upgrade the chart from {current} to {chart}: `helm repo update`, then `helm upgrade {release} "
            f"{CHART_REPO} --version {chart} --namespace {namespace} --reuse-values`",
            chart_version=str(chart),
        )
    ]


_PLACEHOLDER = re.compile(r"\{(namespace|release|version|chart)\}")


def _fill(text: str, **values: str) -> str:
    # not str.format: a configured step may hold other braces (a JSON snippet, a Helm template)
    return _PLACEHOLDER.sub(lambda match: values[match[1]], text)
