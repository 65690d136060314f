"""Notifications benchmark: 1,000 findings across 50 Slack channels against a loopback server.

Reports the wall time of one ``Service.notify`` run against the floor the rate limit allows
(one message per second per channel: a channel that needs N messages needs at least N-1 s),
and the number of messages sent (grouping per channel and run keeps it far below 1,000).

    .venv/bin/python bench/notify_bench.py [--channels 50] [--findings 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from supportwatch.config import Settings
from supportwatch.service import Service

IMAGE = "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.1-9-python-3.12"
AT = datetime(2026, 6, 28, 9, tzinfo=UTC)


class Recorder(BaseHTTPRequestHandler):
    paths: ClassVar[Counter[str]] = Counter()
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.paths[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def settings(folder: Path, base_url: str, channels: int, findings: int) -> Settings:
    # a floating tag gives each deployment exactly one finding (floating_tag)
    deployments = [
        {"name": f"dep-{i:04d}", "team": f"team-{i % channels:02d}", "image": IMAGE} for i in range(findings)
    ]
    receivers = [
        {"name": f"rx-{c:02d}", "slack": {"webhook_url": f"{base_url}/hook/{c:02d}"}} for c in range(channels)
    ]
    routes = [{"match": {"team": f"team-{c:02d}"}, "receiver": f"rx-{c:02d}"} for c in range(channels)]
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{folder / 'bench.db'}",
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--findings", type=int, default=1000)
    args = parser.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as folder:
        service = Service.open(
            settings(
                Path(folder), f"http://127.0.0.1:{httpd.server_address[1]}", args.channels, args.findings
            )
        )
        service.apply_static(AT)
        started = time.perf_counter()
        report = service.notify(AT)
        elapsed = time.perf_counter() - started
        service.close()
    httpd.shutdown()
    httpd.server_close()
    per_channel = Recorder.paths.values()
    floor = max(per_channel) - 1 if per_channel else 0
    print(f"findings: {args.findings} across {args.channels} channels")
    print(f"notices delivered: {report.sent_keys}; messages sent: {report.sent_messages}")
    print(f"messages per channel: min {min(per_channel)} max {max(per_channel)}")
    print(f"wall time: {elapsed:.2f} s; rate-limit floor: {floor:.2f} s; overhead: {elapsed - floor:.2f} s")


if __name__ == "__main__":
    main()
