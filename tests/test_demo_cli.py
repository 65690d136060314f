"""``supportwatch demo``: the service on example data, offline, from any directory."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ports import free_port
from supportwatch.values import FindingKind

SUPPORTWATCH = Path(sys.executable).parent / "supportwatch"
HEALTH_KINDS = {FindingKind.SOURCE_STALE, FindingKind.DATE_CONFLICT}
DEPLOYMENT_KINDS = set(FindingKind) - HEALTH_KINDS
READY_WITHIN = 5.0


def kinds(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The finding kinds the deployments carry, and those in data health."""
    found = {item["kind"] for report in document["deployments"] for item in report["findings"]}
    return found, {item["kind"] for item in document["data_health"]}


def test_demo_serves_every_finding_kind_within_seconds_and_exits_0(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(SUPPORTWATCH), "demo", "--port", str(port)],
        cwd=tmp_path,  # any directory: no config/ here
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=2.0) as client:
            started = time.monotonic()
            ready_at = None
            while time.monotonic() - started < 30 and process.poll() is None:
                try:
                    if client.get(f"{base}/healthz").status_code == 200:
                        ready_at = time.monotonic()
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            assert ready_at is not None, "the demo never answered /healthz"
            deployment_kinds: set[str] = set()
            health_kinds: set[str] = set()
            while time.monotonic() - ready_at < READY_WITHIN:
                answer = client.get(f"{base}/api/v1/deployments")
                if answer.status_code == 200:
                    deployment_kinds, health_kinds = kinds(answer.json())
                    if deployment_kinds >= DEPLOYMENT_KINDS and health_kinds >= HEALTH_KINDS:
                        break
                time.sleep(0.1)
            took = time.monotonic() - ready_at
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert {kind.value for kind in DEPLOYMENT_KINDS} - deployment_kinds == set(), err
    assert {kind.value for kind in HEALTH_KINDS} - health_kinds == set(), err
    assert took < READY_WITHIN
    assert process.returncode == 0, err
    assert "Traceback" not in err
    # what it started, where the dashboard is, and how each source's first poll went
    assert "EXAMPLE DATA" in out
    assert f"dashboard:      http://127.0.0.1:{port}/" in out
    assert f"supportwatch: dashboard at http://127.0.0.1:{port}/" in out
    assert "poll agent-versions: ok (" in out
    assert "poll runtime-notes: failed: " in out  # the demo's source that answers 404
    folder = next(line.split()[-1] for line in out.splitlines() if line.strip().startswith("config:"))
    assert not Path(folder).exists()  # the temporary folder went with the demo
    assert list(tmp_path.iterdir()) == []  # nothing written where it was started
