"""Benchmark: the read-only HTTP layer behind a real uvicorn on 127.0.0.1.

Builds the check benchmark's fleet (1,000 deployments, 500 releases by default) on a SQLite
file, serves ``create_app`` with uvicorn in a thread, and times ``/api/v1/deployments`` and
``/calendar.ics`` over keep-alive connections: sequentially (latency) and from a few client
threads at once (throughput). Each run is bounded by a request count and a time budget.

    .venv/bin/python bench/web_bench.py [--deployments N] [--requests N] [--seconds S] [--clients N]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from check_bench import write_config
from supportwatch.config import load_settings
from supportwatch.service import Service
from supportwatch.web import create_app

PATHS = ("/api/v1/deployments", "/calendar.ics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed_requests(base: str, path: str, count: int, deadline: float) -> list[float]:
    """Latencies (s) of up to ``count`` GETs on one keep-alive connection, stopping at ``deadline``."""
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        while len(latencies) < count and time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.get(path)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(base: str, path: str, *, requests: int, seconds: float, clients: int) -> str:
    timed_requests(base, path, 3, time.monotonic() + seconds)  # warm-up
    serial = timed_requests(base, path, requests, time.monotonic() + seconds)
    started = time.perf_counter()
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(clients) as pool:
        batches = list(
            pool.map(lambda _: timed_requests(base, path, requests // clients, deadline), range(clients))
        )
    wall = time.perf_counter() - started
    done = sum(len(batch) for batch in batches)
    return (
        f"| `{path}` | {len(serial)} | {len(serial) / sum(serial):.1f} | "
        f"{percentile(serial, 0.5) * 1000:.1f} | {percentile(serial, 0.99) * 1000:.1f} | "
        f"{done / wall:.1f} ({clients} clients, {done} requests) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1_000)
    parser.add_argument("--releases", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100, help="per endpoint and phase")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget per endpoint and phase")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supportwatch-web-bench-") as tmp:
        settings = load_settings(write_config(Path(tmp), args.deployments, args.releases, "json"))
        service = Service.open(settings)
        service.apply_static(datetime.now(UTC))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, service=service), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            base = f"http://127.0.0.1:{port}"
            print(
                f"deployments={args.deployments} releases={args.releases} (python {sys.version.split()[0]})"
            )
            print("| path | serial requests | serial req/s | p50 ms | p99 ms | concurrent req/s |")
            print("|---|---|---|---|---|---|")
            for path in PATHS:
                print(measure(base, path, requests=args.requests, seconds=args.seconds, clients=args.clients))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            service.close()


if __name__ == "__main__":
    main()
