"""The exact fix to name in a finding: which agent, which fixed image tag, which chart — pure.

Tags are chosen like the vendor's CLI: fixed tags only, the deployment's base flavour, a
Runtime no newer than the orchestration plane's, the deployment's Python when such a tag
exists, then the highest (Runtime, Python, agent).
"""

from __future__ import annotations

from collections.abc import Iterable

from supportwatch.catalog import Catalog
from supportwatch.compatibility import Rules, chart_admits
from supportwatch.models import Deployment
from supportwatch.versions import AgentVersion, ImageTag, PythonVersion, RuntimeVersion


def best_tag(
    candidates: Iterable[ImageTag],
    *,
    python: PythonVersion | None,
    base: bool,
    max_runtime: RuntimeVersion | None,
) -> ImageTag | None:
    """The best fixed tag among ``candidates`` under the constraints, or None."""
    fitting = [
        tag
        for tag in candidates
        if tag.fixed and tag.base == base and (max_runtime is None or tag.runtime <= max_runtime)
    ]
    same_python = [tag for tag in fitting if python is not None and tag.python == python]
    pool = same_python or fitting
    if not pool:
        return None
    return max(pool, key=lambda tag: (tag.runtime, tag.python or PythonVersion(0, 0), tag.agent))


def tag_reference(deployment: Deployment, tag: ImageTag) -> str:
    """The full image reference ``registry/repository:tag`` in the deployment's repository."""
    return f"{deployment.image.repository}:{tag}"


def agent_remedy(
    deployment: Deployment,
    catalog: Catalog,
    rules: Rules,
    target: AgentVersion | None,
    *,
    like: ImageTag | None = None,
) -> str:
    """ "Move to agent X: <exact image reference>", plus a chart upgrade when the chart needs one.

    ``like`` is the tag whose Python and base flavour to keep (default: the deployment's own).
    """
    if target is None:
        return "No recommendable agent release is known yet; run `supportwatch poll`"
    like = like if like is not None else deployment.image.tag
    ceiling = deployment.orchestration_runtime
    tag = best_tag(
        catalog.tags_of(target),
        python=like.python if like else None,
        base=like.base if like else False,
        max_runtime=ceiling,
    )
    if tag is not None:
        text = f"Move to agent {target}: {tag_reference(deployment, tag)}"
    else:
        limit = f" with Runtime <= {ceiling}" if ceiling else ""
        text = (
            f"Move to agent {target} (no image tag{limit} is known for it yet; see the agent image reference)"
        )
    return text + _chart_note(deployment, catalog, rules, target)


def _chart_note(deployment: Deployment, catalog: Catalog, rules: Rules, target: AgentVersion) -> str:
    chart = deployment.chart_version
    if chart is None or chart_admits(rules, chart, target) is not False:
        return ""
    fitting = catalog.newest_chart_admitting(rules, target)
    if fitting is not None:
        return f"; chart {chart} does not support it: upgrade the chart to {fitting} first"
    return f"; chart {chart} does not support it: upgrade the chart to one that does"
