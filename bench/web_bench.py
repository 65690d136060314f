"""Benchmark: the read-only HTTP layer's cached answers beside the stack's ceiling and nginx.

For each fleet size (the check benchmark's fleet: N deployments against 500 releases in a
static source, on a SQLite file), in the same run and on 127.0.0.1 only:

- ``supportwatch``: ``create_app`` on uvicorn (one process, as ``supportwatch run`` serves it);
- ``bare``: a bare Starlette endpoint on uvicorn answering the same bytes (the stack's ceiling);
- ``nginx``: nginx (one worker, not a daemon, a temporary prefix) serving the same bytes from files.

Each is loaded with wrk (``-t2 -c16``) on ``/calendar.ics``, one team's feed and
``/api/v1/deployments``, after one request has filled the cache; the first request to the team
feed on a fresh server is timed as the cold render (a team feed needs no fleet evaluation).
Then ``supportwatch run`` is started on the bundled config (as ``make run``; its sources are
unreachable here) and on each fleet's, each on a new database: the time until ``/readyz``
answers 200 and its RSS (``/proc``) then and once the leader's first jobs have run. Every
server is stopped by the benchmark.

    .venv/bin/python bench/web_bench.py [--fleets 10,1000,10000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from check_bench import write_config

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SUPPORTWATCH = str(Path(PYTHON).with_name("supportwatch"))
WRK = "/usr/bin/wrk"
NGINX = "/usr/sbin/nginx"
# (label, path, media type, file name nginx serves)
CALENDAR = ("calendar", "/calendar.ics", "text/calendar; charset=utf-8", "calendar.ics")
API = ("api", "/api/v1/deployments", "application/json", "deployments.json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    """Seconds until ``url`` answers 200; fails if the process exits or the time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Load:
    rate: float
    p50_ms: float
    p99_ms: float


def wrk(url: str, seconds: float) -> Load:
    """wrk's requests per second and latency percentiles for ``url`` (2 threads, 16 connections)."""
    out = subprocess.run(
        [WRK, "-t2", "-c16", f"-d{seconds:g}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    return Load(rate, _latency(out, "50%"), _latency(out, "99%"))


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"\s{percentile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# --- the three servers ---------------------------------------------------------------------


def serve_app(config: str, port: int) -> None:
    """``create_app`` on uvicorn, as ``supportwatch run`` serves it (without the scheduler)."""
    import uvicorn  # noqa: PLC0415 - the child's own imports

    from supportwatch.config import load_settings  # noqa: PLC0415
    from supportwatch.web import create_app  # noqa: PLC0415

    app = create_app(load_settings(config))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_bare(folder: str, port: int) -> None:
    """A bare Starlette endpoint per path answering the saved bytes: the stack's ceiling."""
    import uvicorn  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.requests import Request  # noqa: PLC0415
    from starlette.responses import Response  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    saved = {
        line.split("\t")[0]: line.split("\t")[1:]
        for line in Path(folder, "index.tsv").read_text().splitlines()
    }
    bodies = {path: (Path(folder, name).read_bytes(), media) for path, (name, media) in saved.items()}

    def endpoint(path: str) -> object:
        body, media = bodies[path]

        async def answer(_: Request) -> Response:
            return Response(body, media_type=media)

        return answer

    app = Starlette(routes=[Route(path, endpoint(path)) for path in bodies])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def nginx_conf(folder: Path, port: int, files: dict[str, tuple[str, str]]) -> Path:
    """A one-worker, foreground nginx config serving ``files`` (path -> file, type) from ``folder``."""
    locations = "\n".join(
        f"        location = {path} {{ default_type '{media}'; types {{ }} alias {folder / name}; }}"
        for path, (name, media) in files.items()
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    sendfile on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"""
    )
    return conf


# --- one fleet -----------------------------------------------------------------------------


def bench_fleet(deployments: int, releases: int, seconds: float) -> list[str]:
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="supportwatch-web-bench-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # nginx's worker runs as another user
        config = write_config(folder, deployments, releases, "json")
        _prepare(str(config))
        team = "team-1"  # team-0 runs floating tags only: its feed is empty
        feed = ("team feed", f"/calendar/{team}.ics", "text/calendar; charset=utf-8", "team.ics")
        paths = [CALENDAR, feed, API]
        port = free_port()
        app = subprocess.Popen([PYTHON, __file__, "serve-app", str(config), str(port)])
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthz", app)
            started = time.perf_counter()
            cold = httpx.get(base + feed[1], timeout=600)
            cold_ms = (time.perf_counter() - started) * 1000
            cold.raise_for_status()
            files: dict[str, tuple[str, str]] = {}
            index = []
            for _, path, media, name in paths:
                body = httpx.get(base + path, timeout=600).raise_for_status().content
                (folder / name).write_bytes(body)
                files[path] = (name, media)
                index.append(f"{path}\t{name}\t{media}")
            (folder / "index.tsv").write_text("\n".join(index))
            ours = {path: wrk(base + path, seconds) for _, path, _, _ in paths}
        finally:
            stop(app)
        bare_port, nginx_port = free_port(), free_port()
        bare = subprocess.Popen([PYTHON, __file__, "serve-bare", str(folder), str(bare_port)])
        nginx = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(nginx_conf(folder, nginx_port, files))],
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{bare_port}{CALENDAR[1]}", bare)
            wait_until_up(f"http://127.0.0.1:{nginx_port}{CALENDAR[1]}", nginx)
            ceiling = {path: wrk(f"http://127.0.0.1:{bare_port}{path}", seconds) for _, path, _, _ in paths}
            static = {path: wrk(f"http://127.0.0.1:{nginx_port}{path}", seconds) for _, path, _, _ in paths}
        finally:
            stop(bare)
            stop(nginx)
        for label, path, _, name in paths:
            size = (folder / name).stat().st_size
            mine, top, fast = ours[path], ceiling[path], static[path]
            rows.append(
                f"| {deployments:,} | {label} (`{path}`, {_size(size)}) | **{mine.rate:,.0f}** "
                f"({mine.p50_ms:.2f} / {mine.p99_ms:.1f}) | {top.rate:,.0f} | {fast.rate:,.0f} | "
                f"**{mine.rate / top.rate:.2f}** | {mine.rate / fast.rate:.2f} |"
            )
        rows.append(
            f"| {deployments:,} | cold team feed (first request, no cache) | {cold_ms:.0f} ms | | | | |"
        )
    return rows


def _prepare(config: str) -> None:
    """Create and migrate the database and apply the static source, as ``run`` does at start."""
    from supportwatch.config import load_settings  # noqa: PLC0415
    from supportwatch.service import Service  # noqa: PLC0415

    service = Service.open(load_settings(config))
    try:
        service.apply_static(datetime.now(UTC))
    finally:
        service.close()


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


def bench_start(config: Path, cwd: Path) -> tuple[float, float, float]:
    """``supportwatch run`` on ``config`` (its database not yet created): seconds until ``/readyz``
    answers 200, its RSS (MiB, from ``/proc``) then, and 3 s later, once the leader's first jobs
    (every poll, notify, digest) have run."""
    port = free_port()
    run = subprocess.Popen(
        [SUPPORTWATCH, "--config", str(config), "run", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = wait_until_up(f"http://127.0.0.1:{port}/readyz", run)
        at_ready = _rss(run.pid)
        time.sleep(3)
        after_jobs = _rss(run.pid)
    finally:
        stop(run)
    return ready, at_ready, after_jobs


def _rss(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024  # type: ignore[index]


def start_rows(fleets: list[int], releases: int) -> list[str]:
    """The start-up figures: the bundled config (as ``make run``: its sources unreachable here),
    then the bench's fleets."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="supportwatch-web-bench-") as tmp:
        shutil.copytree(ROOT / "config", Path(tmp) / "config")
        ready, at_ready, after = bench_start(Path("config/supportwatch.yaml"), Path(tmp))
        rows.append(f"| bundled config (`make run`) | {ready:.2f} s | {at_ready:.0f} MiB | {after:.0f} MiB |")
    for deployments in fleets:
        with tempfile.TemporaryDirectory(prefix="supportwatch-web-bench-") as tmp:
            config = write_config(Path(tmp), deployments, releases, "json")
            ready, at_ready, after = bench_start(config, Path(tmp))
            label = f"{deployments:,} deployments"
            rows.append(f"| {label} | {ready:.2f} s | {at_ready:.0f} MiB | {after:.0f} MiB |")
    return rows


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] in ("serve-app", "serve-bare"):
        serve = serve_app if sys.argv[1] == "serve-app" else serve_bare
        serve(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", default="10,1000,10000", help="deployment counts, comma-separated")
    parser.add_argument("--releases", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8.0, help="wrk duration per endpoint and server")
    parser.add_argument(
        "--no-start", action="store_true", help="skip the `supportwatch run` start-up figures"
    )
    args = parser.parse_args()
    fleets = [int(item) for item in args.fleets.split(",")]
    python, cpus = sys.version.split()[0], os.cpu_count()
    print(f"releases={args.releases} wrk -t2 -c16 -d{args.seconds:g}s (python {python}, {cpus} CPUs)")
    print("| deployments | path | supportwatch req/s (p50 / p99 ms) | bare | nginx | vs bare | vs nginx |")
    print("|---|---|---|---|---|---|---|")
    for deployments in fleets:
        for row in bench_fleet(deployments, args.releases, args.seconds):
            print(row, flush=True)
    if args.no_start:
        return
    print()
    print("| `supportwatch run` on | ready (`/readyz` 200) | RSS when ready | RSS after the first jobs |")
    print("|---|---|---|---|")
    for row in start_rows(fleets, args.releases):
        print(row, flush=True)


if __name__ == "__main__":
    main()
