"""Notifications benchmark: one ``Service.notify`` run against a loopback Slack server.

Two cases, each timed against the floor the rate limit allows (one message per second per
channel: a channel that needs N messages needs at least N-1 s):

- ``channels``: 1,000 findings across 50 channels (incoming webhooks), each deployment on a
  floating tag of its own (one ``floating_tag`` finding each, no two alike);
- ``fleet``: 120 deployments with 660 findings to one channel (a bot token), every deployment
  different (the fleet of ``tests/notify/fleet.py``: unseen patches on RHEL, old charts).

``--latency-ms`` makes the server answer each post that much later (Slack's own answers take
100-300 ms from most places); sends to different channels overlap, so it costs about one
round trip per message of the busiest channel, not one per message.

    .venv/bin/python bench/notify_bench.py [--case channels|fleet|all] [--channels 50]
        [--findings 1000] [--latency-ms 0] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import yaml

from supportwatch.config import Settings
from supportwatch.service import Service

REPOSITORY = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
FIXTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "every-finding.yaml"
CHANNELS_AT = datetime(2026, 6, 28, 9, tzinfo=UTC)
FLEET_AT = datetime(2026, 8, 1, 9, tzinfo=UTC)


class Recorder(BaseHTTPRequestHandler):
    """Counts posts per channel (webhook path or bot channel); answers like Slack."""

    posts: ClassVar[Counter[str]] = Counter()
    times: ClassVar[list[float]] = []
    lock = threading.Lock()
    latency = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.latency:
            time.sleep(self.latency)
        api = self.path.startswith("/api/")
        with self.lock:
            self.posts[self.path + (":bot" if api else "")] += 1
            self.times.append(time.perf_counter())
            count = sum(self.posts.values())
        answer = b'{"ok": true, "ts": "1785000000.%06d"}' % count if api else b"ok"
        del body
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if api else "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections sent at once: a dropped SYN is
    # retried after a second, which would be timed as a slow send
    request_queue_size = 128
    daemon_threads = True


def channels_settings(folder: Path, base_url: str, channels: int, findings: int) -> Settings:
    # a floating tag of its own gives each deployment exactly one finding, unlike any other
    deployments = [
        {"name": f"dep-{i:04d}", "team": f"team-{i % channels:02d}", "image": f"{REPOSITORY}:3.1-{i}"}
        for i in range(findings)
    ]
    receivers = [
        {"name": f"rx-{c:02d}", "slack": {"webhook_url": f"{base_url}/hook/{c:02d}"}} for c in range(channels)
    ]
    routes = [{"match": {"team": f"team-{c:02d}"}, "receiver": f"rx-{c:02d}"} for c in range(channels)]
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{folder / 'bench.db'}",
            "http": {"allow_private_networks": True},
            "sources": [
                {
                    "name": "pinned",
                    "kind": "static",
                    "releases": [{"component": "agent", "version": "1.6.0", "released_on": "2026-04-16"}],
                }
            ],
            "deployments": deployments,
            "receivers": receivers,
            "routes": routes,
        }
    )


def fleet_settings(folder: Path, base_url: str) -> Settings:
    raw: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    raw["database_url"] = f"sqlite:///{folder / 'bench.db'}"
    raw["deployments"] = [
        {
            "name": f"{'east' if i % 2 == 0 else 'west'}-{i:03d}",
            "team": "data-platform",
            "image": f"{REPOSITORY}:{'3.2-2' if i % 2 == 0 else '3.1-9'}-python-3.12-astro-agent-"
            + (f"1.6.{i + 2}" if i % 2 == 0 else f"1.3.{i + 2}"),
            "chart_version": "1.5.0" if i % 2 == 0 else "2.0.0",
            "orchestration_runtime": "3.2-2" if i % 2 == 0 else "3.1-7",
            "platform": "rhel9",
        }
        for i in range(120)
    ]
    raw["http"] = {"allow_private_networks": True}
    raw["receivers"] = [
        {
            "name": "data-platform",
            "slack": {"token": "xoxb-bench", "channel": "#agents", "api_url": f"{base_url}/api/"},
        }
    ]
    raw["routes"] = [{"match": {"team": "data-platform"}, "receiver": "data-platform"}]
    raw["web"] = {"public_url": "https://supportwatch.example.com"}
    return Settings.model_validate(raw)


def run_once(case: str, args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    Recorder.posts.clear()
    Recorder.times.clear()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if case == "channels":
            settings, at = channels_settings(folder, base_url, args.channels, args.findings), CHANNELS_AT
        else:
            settings, at = fleet_settings(folder, base_url), FLEET_AT
        service = Service.open(settings)
        service.apply_static(at)
        started = time.perf_counter()
        report = service.notify(at)
        elapsed = time.perf_counter() - started
        findings = sum(len(r.findings) for r in service.evaluate(at))
        service.close()
    per_channel = list(Recorder.posts.values())
    return {
        "findings": findings,
        "keys": report.sent_keys,
        "messages": report.sent_messages,
        "channels": len(per_channel),
        "most": max(per_channel, default=0),
        "least": min(per_channel, default=0),
        "floor": max(max(per_channel, default=1) - 1, 0) / settings.notify.slack_rate_per_second,
        "wall": elapsed,
        # from the first post to the last: what the sends took, against the same floor
        "span": max(Recorder.times) - min(Recorder.times) if Recorder.times else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=["channels", "fleet", "all"], default="all")
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--findings", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    Recorder.latency = args.latency_ms / 1000
    httpd = Server(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    cases = ["channels", "fleet"] if args.case == "all" else [args.case]
    try:
        for case in cases:
            runs = [run_once(case, args, base_url) for _ in range(args.runs)]
            first = runs[0]
            walls = sorted(run["wall"] for run in runs)
            spans = sorted(run["span"] for run in runs)
            print(
                f"{case}: {first['findings']} findings to {first['channels']} channel(s), "
                f"latency {args.latency_ms:g} ms"
            )
            print(f"  notices delivered: {first['keys']}; messages sent: {first['messages']}")
            print(f"  messages per channel: min {first['least']} max {first['most']}")
            print(
                f"  wall time: median {statistics.median(walls):.2f} s ({walls[0]:.2f}-{walls[-1]:.2f}, "
                f"{len(runs)} runs); rate-limit floor {first['floor']:.2f} s"
            )
            print(f"  first post to last: median {statistics.median(spans):.2f} s")
    finally:
        httpd.shutdown()
        httpd.server_close()


if __name__ == "__main__":
    main()
