"""A fleet for the volume tests: 120 deployments with 660 findings on 2026-08-01, to one team.

Half run agent 1.6.0 with chart 1.5.0 (6 findings each: the chart refuses the agent, a newer
minor and patch, a newer chart that is a breaking upgrade, a new major); half run agent 1.3.1
on chart 2.0.0 with an orchestration plane older than its Runtime (5 each: end of maintenance,
the chart refuses the agent, runtime skew, a newer chart, a new major). The versions and
releases are those of ``tests/fixtures/every-finding.yaml``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from supportwatch.notify.digest import DeploymentLine, Digest

FIXTURE = Path(__file__).parent.parent / "fixtures" / "every-finding.yaml"
AT = datetime(2026, 8, 1, 9, tzinfo=UTC)
REPOSITORY = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
TEAM = "data-platform"


def varied_config(database_url: str, deployments: int = 120, **overrides: Any) -> dict[str, Any]:
    """Like ``fleet_config``, but no two deployments alike: each runs a patch no source has seen
    (1.6.x on chart 1.5.0, or 1.3.x on chart 2.0.0 with runtime skew), on RHEL: 120 of them raise
    660 findings (5 and 6 each), every section its own."""
    raw = fleet_config(database_url, deployments, **overrides)
    for index, item in enumerate(raw["deployments"]):
        agent = f"1.6.{index + 2}" if index % 2 == 0 else f"1.3.{index + 2}"
        runtime = "3.2-2" if index % 2 == 0 else "3.1-9"
        item["image"] = f"{REPOSITORY}:{runtime}-python-3.12-astro-agent-{agent}"
        item["platform"] = "rhel9"
    return raw


def fleet_config(database_url: str, deployments: int = 120, **overrides: Any) -> dict[str, Any]:
    """A config (as ``Settings.model_validate`` takes it) with the fleet routed to ``TEAM``."""
    raw: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    raw["database_url"] = database_url
    fleet = []
    for index in range(deployments):
        if index % 2 == 0:
            fleet.append(
                {
                    "name": f"east-{index:03d}",
                    "team": TEAM,
                    "image": f"{REPOSITORY}:3.2-2-python-3.12-astro-agent-1.6.0",
                    "chart_version": "1.5.0",
                    "orchestration_runtime": "3.2-2",
                    "namespace": f"agents-{index:03d}",
                    "release": "agent",
                }
            )
        else:
            fleet.append(
                {
                    "name": f"west-{index:03d}",
                    "team": TEAM,
                    "image": f"{REPOSITORY}:3.1-9-python-3.11-astro-agent-1.3.1",
                    "chart_version": "2.0.0",
                    "orchestration_runtime": "3.1-7",
                    "namespace": f"agents-{index:03d}",
                    "release": "agent",
                }
            )
    raw["deployments"] = fleet
    raw.update(overrides)
    return raw


def digest(deployments: int) -> Digest:
    """A digest of ``deployments`` deployments in every state, with 40 items in each list of changes."""
    lines = tuple(
        DeploymentLine(
            name=f"deployment-{index:04d}",
            team="data-platform",
            state=("unmaintained", "behind", "unknown", "current")[index % 4],
            agent_version="1.6.1",
            end_of_maintenance="2026-11-09",
            days_left=7,
            findings=3,
            worst=("critical", "warning", "warning", None)[index % 4],
            end="2026-11-09",
            target="images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.2-4-python-3.12-astro-agent-1.7.0",
            url=f"https://supportwatch.example.com/deployments/deployment-{index:04d}",
        )
        for index in range(deployments)
    )
    many = tuple(f"change {index}" for index in range(40))
    return Digest(
        "data-platform", "2026-W45", "2026-10-26T09:00:00+00:00", lines, many, many, many, many, many, many
    )
