"""The deployments a team tracks: their settings, and where they are read from.

Deployments are written in the config file (``deployments:``) or in a file of their own
(``deployments_file:``, read relative to the config file). Each is parsed once, at load: its
image, chart version and orchestration Runtime are domain values (``config.types``), so
``to_deployment`` only assembles them. An error in one deployment names the file it is in,
its index and its name: ``deployments.yaml: deployments[2] (prod-west).image``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

from supportwatch.config.loader import read_yaml
from supportwatch.config.paths import DeploymentAt, deployment_name
from supportwatch.config.secrets import Seen, interpolate
from supportwatch.config.types import AgentImage, HelmRelease, Name, Namespace, Runtime, Semver
from supportwatch.errors import ConfigError
from supportwatch.values import Deployment


# a validated dataclass with slots, not a ``ConfigModel``: a fleet holds thousands and a model's
# instance dict and set of fields set cost ten times the slots (10,000 deployments: 11 MiB vs 1)
@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid", allow_inf_nan=False))
class DeploymentSettings:
    """One tracked deployment; ``namespace`` and ``release`` fill in the plan's kubectl and helm commands."""

    name: Name
    team: Name
    image: AgentImage
    chart_version: Semver | None = None
    orchestration_runtime: Runtime | None = None
    platform: str = "linux"
    namespace: Namespace | None = None
    release: HelmRelease | None = None

    def to_deployment(self) -> Deployment:
        return Deployment(
            name=self.name,
            team=self.team,
            image=self.image,
            chart_version=self.chart_version,
            orchestration_runtime=self.orchestration_runtime,
            platform=self.platform,
            namespace=self.namespace,
            helm_release=self.release,
        )


def _interpolate_deployments(items: Any, file: str, base: Path, seen: Seen) -> Any:
    """Interpolate a deployments list; an error names ``file``, the index and the deployment."""
    if not isinstance(items, list):
        return interpolate(items, ("deployments",), base, seen)
    return [
        interpolate(item, (DeploymentAt(file, index, deployment_name(items, index)),), base, seen)
        for index, item in enumerate(items)
    ]


ABSENT: Any = object()


def inline_deployments(raw: dict[str, Any], inline: Any, config_name: str, base: Path, seen: Seen) -> str:
    """Put the interpolated deployments into ``raw``; return the name of the file they are in.

    ``inline`` is the config file's own ``deployments`` (``ABSENT`` if it has none); a
    ``deployments_file`` is read relative to ``base``, the config file's directory.
    """
    name = raw.pop("deployments_file", None)
    if name is None:
        if inline is not ABSENT:
            raw["deployments"] = _interpolate_deployments(inline, config_name, base, seen)
        return config_name
    if inline is not ABSENT:
        raise ConfigError("deployments_file", "set either deployments or deployments_file, not both")
    if not isinstance(name, str):
        raise ConfigError("deployments_file", f"{name!r} is not a file name")
    raw["deployments"] = _interpolate_deployments(_read_deployments_file(base, name), name, base, seen)
    return name


def _read_deployments_file(base: Path, name: str) -> Any:
    """The deployments listed in ``name``: a list, or a mapping holding only ``deployments``."""
    file = base / name
    if not os.path.lexists(file):
        raise ConfigError(
            "deployments_file",
            f"{name!r} does not exist (looked for {str(file)!r}); a relative name is read from "
            "the config file's directory",
        )
    try:
        loaded = read_yaml(file)
    except ConfigError as exc:
        # "line 5: duplicate key ..." must say which file line 5 is in
        raise ConfigError(f"{name}: {exc.path}" if exc.path else name, exc.message) from None
    if isinstance(loaded, dict) and set(loaded) == {"deployments"}:
        loaded = loaded["deployments"]
    if not isinstance(loaded, list):
        raise ConfigError(
            "deployments_file", f"{name!r} must hold a list of deployments (or deployments: [...])"
        )
    return loaded
