"""Benchmark: `supportwatch check --format json` over 10,000 deployments and 500 releases.

Generates a config with a static source of 500 releases (agents with image tags, charts,
Runtimes) and 10,000 deployments in the vendor's tag formats, then runs the real CLI in a
subprocess several times on a SQLite file. Reports wall time and peak RSS of the child.

    .venv/bin/python bench/check_bench.py [--deployments N] [--releases N] [--runs N] [--baseline REV]

With ``--baseline REV`` the same config is also run, interleaved run by run, by the code of git
revision REV (checked out into a temporary worktree and put first on PYTHONPATH), and the
ratio of the medians is printed: a loaded machine slows both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
PYTHONS = ("3.11", "3.12", "3.13")


def releases(count: int) -> list[dict[str, object]]:
    """About 60% agents (with tags), 20% charts, 20% Runtimes, dated over three years."""
    start = date(2024, 1, 1)
    items: list[dict[str, object]] = []
    agents = int(count * 0.6)
    for index in range(agents):
        major, minor, patch = 1, index // 6, index % 6
        runtime = f"3.{minor % 4}-{index % 20 + 1}"
        items.append(
            {
                "component": "agent",
                "version": f"{major}.{minor}.{patch}",
                "released_on": start + timedelta(days=index * 2),
                "image_tags": [
                    f"{runtime}-python-{py}-astro-agent-{major}.{minor}.{patch}" for py in PYTHONS
                ],
            }
        )
    charts = (count - agents) // 2
    items += [
        {
            "component": "chart",
            "version": f"{1 + index // 50}.{index % 50}.0",
            "released_on": start + timedelta(days=index * 7),
            "app_version": f"1.{index % 50}.0",
        }
        for index in range(charts)
    ]
    items += [
        {
            "component": "runtime",
            "version": f"3.{index // 40}-{index % 40 + 1}",
            "released_on": start + timedelta(days=index * 3),
        }
        for index in range(count - agents - charts)
    ]
    return items


def deployments(count: int, agents: list[dict[str, object]]) -> list[dict[str, object]]:
    rng = random.Random(42)
    result = []
    for index in range(count):
        agent = rng.choice(agents)
        tag = rng.choice(agent["image_tags"])  # type: ignore[arg-type]
        if index % 10 == 0:
            tag = tag.split("-astro-agent-")[0]  # a floating tag
        result.append(
            {
                "name": f"deployment-{index:05d}",
                "team": f"team-{index % 40}",
                "image": f"{REPO}:{tag}",
                "chart_version": f"{1 + index % 2}.{index % 50}.0",
                "orchestration_runtime": f"3.{index % 4}-{index % 20 + 1}",
                "platform": "rhel" if index % 97 == 0 else "linux",
            }
        )
    return result


def write_config(folder: Path, n_deployments: int, n_releases: int, fleet_format: str = "yaml") -> Path:
    catalog = releases(n_releases)
    config = {
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "compatibility": [
            {"chart": "<2.0.0", "agent": ["<1.40.0"]},
            {"chart": ">=2.0.0", "agent": [">=1.20.0"]},
        ],
        "sources": [{"name": "bench", "kind": "static", "releases": catalog}],
        "deployments_file": f"deployments.{fleet_format}",
    }
    agents = [item for item in catalog if item["component"] == "agent"]
    fleet = {"deployments": deployments(n_deployments, agents)}
    text = json.dumps(fleet) if fleet_format == "json" else yaml.safe_dump(fleet, sort_keys=False)
    (folder / f"deployments.{fleet_format}").write_text(text, encoding="utf-8")
    path = folder / "supportwatch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def run_once(config: Path, source: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) of the child, and the number of deployments printed.

    ``source``: a ``service`` folder whose ``supportwatch`` package runs instead of the installed one.
    """
    command = [sys.executable, "-m", "supportwatch.cli", "--config", str(config), "check", "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(source)} if source is not None else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen([*command, "--fail-on", "never"], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"check failed ({child.returncode}): {err.read().decode()[-2000:]}")
        out.seek(0)
        count = len(json.loads(out.read())["deployments"])
    return wall, usage.ru_maxrss / 1024, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--releases", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fleet-format", choices=["yaml", "json", "both"], default="both")
    parser.add_argument("--baseline", metavar="REV", help="also run git revision REV's code, interleaved")
    args = parser.parse_args()
    formats = ["yaml", "json"] if args.fleet_format == "both" else [args.fleet_format]
    version = sys.version.split()[0]
    print(f"deployments={args.deployments} releases={args.releases} runs={args.runs} (python {version})")
    with tempfile.TemporaryDirectory(prefix="supportwatch-baseline-") as base:
        baseline = _checkout(args.baseline, Path(base)) if args.baseline else None
        try:
            for fleet_format in formats:
                _measure(args, fleet_format, baseline)
        finally:
            if baseline is not None:
                subprocess.run(["git", "worktree", "remove", "--force", str(baseline.parent)], check=False)


def _checkout(rev: str, folder: Path) -> Path:
    tree = folder / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], check=True, capture_output=True)
    return tree / "service"


def _measure(args: argparse.Namespace, fleet_format: str, baseline: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="supportwatch-bench-") as tmp:
        config = write_config(Path(tmp), args.deployments, args.releases, fleet_format)
        first_wall, first_peak, count = run_once(config)  # creates the database, records the releases
        assert count == args.deployments
        if baseline is not None:  # a database of its own: the two codes' schemas may differ
            (Path(tmp) / "baseline").mkdir()
            base_config = write_config(Path(tmp) / "baseline", args.deployments, args.releases, fleet_format)
            run_once(base_config, baseline)
        walls, peaks, base_walls, base_peaks = [], [], [], []
        for _ in range(args.runs):
            wall, peak, _count = run_once(config)
            walls.append(wall)
            peaks.append(peak)
            if baseline is not None:
                wall, peak, _count = run_once(base_config, baseline)
                base_walls.append(wall)
                base_peaks.append(peak)
    print(
        f"fleet as {fleet_format}: first run (migrate, record) {first_wall:.2f} s {first_peak:.0f} MiB; "
        f"steady wall median {statistics.median(walls):.2f} s "
        f"(min {min(walls):.2f}, max {max(walls):.2f}); peak RSS {max(peaks):.0f} MiB"
    )
    if base_walls:
        ratio = statistics.median(walls) / statistics.median(base_walls)
        print(
            f"  baseline {args.baseline}: median {statistics.median(base_walls):.2f} s "
            f"(min {min(base_walls):.2f}, max {max(base_walls):.2f}), peak RSS {max(base_peaks):.0f} MiB; "
            f"ratio {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
