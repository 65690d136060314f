"""Image tags to move to and the one-line fix every finding names — pure.

Tags are chosen like the vendor's CLI: fixed tags only, the deployment's base flavour, a
Runtime no newer than the orchestration plane's, the deployment's Python when such a tag
exists, then the highest (Runtime, Python, agent).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from supportwatch.catalog import Catalog
from supportwatch.values import Deployment
from supportwatch.versions import ImageTag, PythonVersion, RuntimeVersion


def best_tag(
    candidates: Iterable[ImageTag],
    *,
    python: PythonVersion | None,
    base: bool,
    max_runtime: RuntimeVersion | None,
    exclude: Collection[RuntimeVersion] = (),
) -> ImageTag | None:
    """The best fixed tag among ``candidates`` under the constraints, or None."""
    fitting = [
        tag
        for tag in candidates
        if tag.fixed
        and tag.base == base
        and (max_runtime is None or tag.runtime <= max_runtime)
        and tag.runtime not in exclude
    ]
    same_python = [tag for tag in fitting if python is not None and tag.python == python]
    pool = same_python or fitting
    if not pool:
        return None
    return max(pool, key=lambda tag: (tag.runtime, tag.python or PythonVersion(0, 0), tag.agent))


def lowest_tag_above(
    candidates: Iterable[ImageTag],
    *,
    python: PythonVersion | None,
    base: bool,
    floor: RuntimeVersion,
    exclude: Collection[RuntimeVersion] = (),
) -> ImageTag | None:
    """The fixed tag with the lowest Runtime above ``floor``: what a raised orchestration plane allows."""
    fitting = [
        tag
        for tag in candidates
        if tag.fixed and tag.base == base and tag.runtime > floor and tag.runtime not in exclude
    ]
    same_python = [tag for tag in fitting if python is not None and tag.python == python]
    pool = same_python or fitting
    if not pool:
        return None
    lowest = min(tag.runtime for tag in pool)
    return max(
        (tag for tag in pool if tag.runtime == lowest),
        key=lambda tag: (tag.python or PythonVersion(0, 0), tag.agent),
    )


def pinned_equivalent(tag: ImageTag, catalog: Catalog) -> ImageTag | None:
    """The fixed tag a floating ``tag`` most likely resolves to now: the newest stable agent
    published on the same Runtime, Python (if named) and flavour."""
    key = ("pinned", tag)
    return catalog.remember(
        key,
        lambda: next(
            (
                fixed
                for agent in catalog.recommendable_agents()
                for fixed in sorted(catalog.tags_of(agent), key=_python_of, reverse=True)
                if fixed.fixed
                and fixed.runtime == tag.runtime
                and fixed.base == tag.base
                and tag.python in (None, fixed.python)
            ),
            None,
        ),
    )


def _python_of(tag: ImageTag) -> tuple[int, int]:
    return (tag.python.major, tag.python.minor) if tag.python else (0, 0)


def tag_reference(deployment: Deployment, tag: ImageTag) -> str:
    """The full image reference ``registry/repository:tag`` in the deployment's repository."""
    return f"{deployment.image.repository}:{tag}"
