"""Key paths as errors name them: ``deployments.yaml: deployments[2] (prod-west).image``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supportwatch.config.types import NAME


@dataclass(frozen=True, slots=True)
class DeploymentAt:
    """One deployment as error paths name it: ``deployments.yaml: deployments[3] (prod-west)``.

    ``file`` is the file the deployment is written in; ``name`` is shown if it is a usable name.
    """

    file: str
    index: int
    name: object = None

    def __str__(self) -> str:
        label = f"deployments[{self.index}]"
        if isinstance(self.name, str) and NAME.fullmatch(self.name):
            label += f" ({self.name})"
        return f"{self.file}: {label}" if self.file else label


Loc = tuple[str | int | DeploymentAt, ...]


def format_path(loc: Loc) -> str:
    """``("deployments", 2, "image")`` -> ``deployments[2].image``; a DeploymentAt names its file."""
    text = ""
    for part in loc:
        if isinstance(part, DeploymentAt):
            text += str(part)
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def deployment_name(items: Any, index: int) -> object:
    """The raw ``name`` of deployment ``index`` in ``items``, if it has one (for error paths)."""
    item = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    return item.get("name") if isinstance(item, dict) else None
