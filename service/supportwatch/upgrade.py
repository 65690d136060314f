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

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from supportwatch.catalog import Catalog
from supportwatch.compatibility import Rules, chart_admits
from supportwatch.remedy import best_tag, pinned_equivalent, tag_reference
from supportwatch.target import Target
from supportwatch.values import Deployment
from supportwatch.versions import AgentVersion, ImageTag, RuntimeVersion

CHART_REPO = "astronomer/astro-remote-execution-agent"


@dataclass(frozen=True, slots=True)
class Step:
    """One change: ``change`` is what changes (orchestration, pin, agent, runtime, python,
    image, chart); ``image`` / ``chart_version`` are what the deployment runs after it.

    ``brief`` is the step's short phrase in a finding's remedy (see ``plan_remedy``)."""

    change: str
    text: str
    image: str | None = None
    chart_version: str | None = None
    brief: str = ""


_IMAGE_CHANGES = frozenset({"pin", "agent", "runtime", "python", "image"})


def plan_steps(deployment: Deployment, target: Target, catalog: Catalog, rules: Rules) -> tuple[Step, ...]:
    """The ordered steps from ``deployment`` to ``target`` (empty when nothing moves)."""
    if not target.moves:
        return ()
    steps: list[Step] = []
    ceiling = target.orchestration or deployment.orchestration_runtime
    if target.orchestration is not None:
        steps.append(_orchestration_step(target.orchestration, known=True))
    start = _start(deployment, catalog, target, steps, ceiling)
    final = target.tag or start
    running = deployment.image.tag
    rises = final is not None and running is not None and final.runtime > running.runtime
    if deployment.orchestration_runtime is None and rises and final is not None:
        steps.insert(0, _orchestration_step(final.runtime, known=False))
    images = _Images(deployment, catalog, ceiling)
    chart = target.chart
    if chart is None or deployment.chart_version is None:
        return (*steps, *images.steps(start, final))
    agent_now = start.agent if start is not None else None
    final_agent = final.agent if final is not None else None
    chart_steps = _chart_steps(deployment, chart, rules, catalog)
    if agent_now is None or chart_admits(rules, chart, agent_now) is not False:
        return (*steps, *chart_steps, *images.steps(start, final))
    if final_agent is None or chart_admits(rules, deployment.chart_version, final_agent) is not False:
        return (*steps, *images.steps(start, final), *chart_steps)
    bridge = _bridge(
        deployment, like=start or final, chart=chart, catalog=catalog, rules=rules, ceiling=ceiling
    )
    return (*steps, *images.steps(start, bridge), *chart_steps, *images.steps(bridge, final))


def plan_remedy(plan: Sequence[Step]) -> str:
    """The plan in one line: each run of image steps as its last image, each chart upgrade once."""
    phrases: list[str] = []
    for index, step in enumerate(plan):
        following = plan[index + 1] if index + 1 < len(plan) else None
        same_run = following is not None and _category(following) == _category(step)
        if step.brief and not (same_run and _category(step) != "orchestration"):
            phrases.append(step.brief)
    return "; then ".join(phrases)


def target_remedy(target: Target, plan: Sequence[Step]) -> str:
    """The one-line fix every fixable finding names: the target, as the plan reaches it."""
    text = plan_remedy(plan) if target.moves else ""
    if target.note:
        text = f"{text} ({target.note})" if text else target.note
    return text[:1].upper() + text[1:] if text else "Nothing to change"


def _category(step: Step) -> str:
    return "image" if step.change in _IMAGE_CHANGES else step.change


def _orchestration_step(runtime: RuntimeVersion, *, known: bool) -> Step:
    if known:
        return Step(
            "orchestration",
            f"Upgrade the orchestration plane (the Astro Deployment) to Runtime {runtime} or later, "
            "before the execution plane",
            brief=f"upgrade the orchestration plane to Runtime {runtime} or later",
        )
    return Step(
        "orchestration",
        f"Make sure the orchestration plane (the Astro Deployment) runs Runtime {runtime} or later "
        "before the execution plane moves: the execution plane must not be newer (set "
        "orchestration_runtime for this deployment so supportwatch can check it)",
    )


def _start(
    deployment: Deployment,
    catalog: Catalog,
    target: Target,
    steps: list[Step],
    ceiling: RuntimeVersion | None,
) -> ImageTag | None:
    """The fixed tag the image steps start from; a floating tag is pinned first, unless what it
    points to is no step on the way (the target itself, or above the orchestration plane)."""
    tag = deployment.image.tag
    if tag is not None and tag.fixed:
        return tag
    pinned = pinned_equivalent(tag, catalog) if tag is not None else None
    if pinned is None or pinned == target.tag or (ceiling is not None and pinned.runtime > ceiling):
        return None
    shown = str(tag) if tag is not None else f"@{deployment.image.digest}"
    ref = tag_reference(deployment, pinned)
    steps.append(
        Step(
            "pin",
            f"Pin the floating tag {shown} to the fixed tag it points to now: {ref}",
            image=ref,  # no brief: the remedy names where the image steps end
        )
    )
    return pinned


_DIMENSIONS = ("agent", "runtime", "python")


@dataclass(frozen=True, slots=True)
class _Images:
    """Image steps for one deployment: single changes through published images where possible."""

    deployment: Deployment
    catalog: Catalog
    ceiling: RuntimeVersion | None

    def steps(self, start: ImageTag | None, final: ImageTag | None) -> list[Step]:
        if final is None or start == final:
            return []
        running = self.deployment.image.tag
        key = (
            "image-steps",
            self.deployment.image.repository,
            running,
            start,
            final,
            self._ceiling(start, final),
        )
        return self.catalog.remember(key, lambda: self._render(start, final))

    def _ceiling(self, start: ImageTag | None, final: ImageTag) -> RuntimeVersion | None:
        # the ceiling matters only when a published image between the two could be above it
        top = max(start.runtime, final.runtime) if start is not None else final.runtime
        return self.ceiling if self.ceiling is not None and self.ceiling < top else None

    def _render(self, start: ImageTag | None, final: ImageTag) -> list[Step]:
        if start is None:
            ref = tag_reference(self.deployment, final)
            return [Step("image", f"Deploy {ref} (agent {final.agent})", image=ref, brief=self._brief(final))]
        path = self._path(start, final)
        steps = []
        for before, after in itertools.pairwise([start, *path]):
            dims = tuple(dim for dim in _DIMENSIONS if _value(before, dim) != _value(after, dim))
            ref = tag_reference(self.deployment, after)
            change = dims[0] if len(dims) == 1 else "image"
            steps.append(
                Step(change, _step_text(before, after, dims, ref), image=ref, brief=self._brief(after))
            )
        return steps

    def _brief(self, tag: ImageTag) -> str:
        ref = tag_reference(self.deployment, tag)
        running = self.deployment.image.tag
        if running is not None and running.agent == tag.agent:
            return f"use {ref}"
        return f"move to agent {tag.agent}: {ref}"

    def _path(self, start: ImageTag, final: ImageTag) -> list[ImageTag]:
        ceiling = self._ceiling(start, final)
        key = ("image-path", start, final, ceiling)
        return self.catalog.remember(
            key,
            lambda: (
                _single_changes(start, final, self.catalog, ceiling)
                or _grouped(start, final, self.catalog, ceiling)
            ),
        )


def _single_changes(
    start: ImageTag, final: ImageTag, catalog: Catalog, ceiling: RuntimeVersion | None
) -> list[ImageTag] | None:
    """The shortest path of single changes (agent, Runtime or Python) through published images
    between ``start`` and ``final`` (never past either end, nor above ``ceiling``); None if none."""
    assert start.agent is not None
    assert final.agent is not None
    low_rt, high_rt = sorted((start.runtime, final.runtime))
    agents = {start.agent, final.agent}  # the agent changes once, straight to the target's
    nodes = {
        tag
        for agent in agents
        for tag in catalog.tags_of(agent)
        if tag.base == start.base
        and tag.python in (start.python, final.python)
        and low_rt <= tag.runtime <= high_rt
        and (ceiling is None or tag.runtime <= ceiling)
    } | {final}
    previous: dict[ImageTag, ImageTag] = {}
    frontier = [start]
    seen = {start}
    while frontier and final not in seen:
        nxt = []
        for node in frontier:
            for other in nodes - seen:
                if sum(_value(node, dim) != _value(other, dim) for dim in _DIMENSIONS) == 1:
                    seen.add(other)
                    previous[other] = node
                    nxt.append(other)
        frontier = nxt
    if final not in seen:
        return None
    path = [final]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[-2::-1]


def _value(tag: ImageTag, dim: str) -> object:
    return {"agent": tag.agent, "runtime": tag.runtime, "python": tag.python}[dim]


def _with(tag: ImageTag, final: ImageTag, dims: tuple[str, ...]) -> ImageTag:
    return ImageTag(
        runtime=final.runtime if "runtime" in dims else tag.runtime,
        python=final.python if "python" in dims else tag.python,
        agent=final.agent if "agent" in dims else tag.agent,
        base=tag.base,
    )


def _grouped(
    start: ImageTag, final: ImageTag, catalog: Catalog, ceiling: RuntimeVersion | None
) -> list[ImageTag]:
    """The images after each step when some changes must go together (no path of single
    changes exists): one change alone, then the others together, or the reverse, through a
    published image; else everything in one step."""
    changed = [dim for dim in _DIMENSIONS if _value(start, dim) != _value(final, dim)]
    if len(changed) == 3:
        for dim in changed:
            rest = tuple(other for other in changed if other != dim)
            for first in ((dim,), rest):
                middle = _with(start, final, first)
                if _exists(middle, catalog, ceiling):
                    return [middle, final]
    return [final]


def _exists(tag: ImageTag, catalog: Catalog, ceiling: RuntimeVersion | None) -> bool:
    fits = ceiling is None or tag.runtime <= ceiling
    return fits and tag.agent is not None and tag in catalog.tags_of(tag.agent)


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
    like: ImageTag | None,
    chart: AgentVersion,
    catalog: Catalog,
    rules: Rules,
    ceiling: RuntimeVersion | None,
) -> ImageTag | None:
    """An image whose agent both the current and the target chart admit (newest first)."""
    current_chart = deployment.chart_version
    assert current_chart is not None
    key = (
        "bridge",
        current_chart,
        chart,
        like.python if like else None,
        like.base if like else False,
        ceiling,
    )
    found = catalog.remember(
        key,
        lambda: _find_bridge(
            current_chart, like=like, chart=chart, catalog=catalog, rules=rules, ceiling=ceiling
        ),
    )
    return found or like


def _find_bridge(
    current_chart: AgentVersion,
    *,
    like: ImageTag | None,
    chart: AgentVersion,
    catalog: Catalog,
    rules: Rules,
    ceiling: RuntimeVersion | None,
) -> ImageTag | None:
    for agent in catalog.recommendable_agents():
        if chart_admits(rules, current_chart, agent) is False or chart_admits(rules, chart, agent) is False:
            continue
        fit = best_tag(
            catalog.tags_of(agent),
            python=like.python if like else None,
            base=like.base if like else False,
            max_runtime=ceiling,
        )
        if fit is not None:
            return fit
    return None


def _chart_steps(deployment: Deployment, chart: AgentVersion, rules: Rules, catalog: Catalog) -> list[Step]:
    key = ("chart-steps", deployment.chart_version, chart, deployment.namespace, deployment.helm_release)
    return catalog.remember(key, lambda: _render_chart_steps(deployment, chart, rules))


def _render_chart_steps(deployment: Deployment, chart: AgentVersion, rules: Rules) -> list[Step]:
    current = deployment.chart_version
    assert current is not None
    crossing = [u for u in rules.chart_upgrades if current < u.to <= chart and current.major < u.to.major]
    if crossing:
        upgrade = min(crossing, key=lambda u: u.to)
        return [
            Step(
                "chart",
                f"Chart {current} -> {chart}, breaking upgrade step {index} of {len(upgrade.steps)}: "
                + chart_step_text(text, deployment, chart),
                chart_version=str(chart) if index == len(upgrade.steps) else None,
                brief=f"upgrade the chart from {current} to {chart} (a breaking upgrade: see the plan)",
            )
            for index, text in enumerate(upgrade.steps, start=1)
        ]
    return [
        Step(
            "chart",
            f"Upgrade the chart from {current} to {chart}: "
            + chart_step_text(_MINOR_CHART_STEP, deployment, chart),
            chart_version=str(chart),
            brief=f"upgrade the chart from {current} to {chart}",
        )
    ]


# a chart upgrade that crosses no breaking version: one command, with the placeholders of a
# configured step (``chart_step_text``)
_MINOR_CHART_STEP = (
    "`helm repo update`, then `helm upgrade {release} {chart} --version {version} --namespace {namespace} "
    "--reuse-values`"
)
_PLACEHOLDER = re.compile(r"\{(namespace|release|version|chart)\}")


def chart_step_text(text: str, deployment: Deployment, chart: AgentVersion) -> str:
    """A configured chart-upgrade step for ``deployment`` moving to ``chart``: ``{namespace}`` and
    ``{release}`` filled in from the deployment (``<namespace>``, ``<release>`` when it names
    none), ``{version}`` and ``{chart}`` from the move; every surface says the same command."""
    return _fill(
        text,
        namespace=deployment.namespace or "<namespace>",
        release=deployment.helm_release or "<release>",
        version=str(chart),
        chart=CHART_REPO,
    )


def _fill(text: str, **values: str) -> str:
    # not str.format: a configured step may hold other braces (a JSON snippet, a Helm template)
    return _PLACEHOLDER.sub(lambda match: values[match[1]], text)
