"""Helm index ingest benchmark (issue 3).

Generates a ~17 MB Helm index (about 15,000 versions across many charts; the tracked chart has
300), then, each in a fresh process so peak RSS is its own:

- ours: ``parse_helm_index`` of the tracked chart + recording it in a SQLite store;
- full: a plain ``yaml.load(..., Loader=yaml.CSafeLoader)`` of the same file;

and the cost of a poll answered 304 by a loopback server. Writes the section
"## Helm index ingest (issue 3)" of bench/RESULTS.md (other sections are left alone).

    .venv/bin/python bench/helm_bench.py [--no-write]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from supportwatch.config import Settings
from supportwatch.engine import create_engine_for
from supportwatch.migrations import upgrade
from supportwatch.service import Service
from supportwatch.sources.helm import parse_helm_index
from supportwatch.store import Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## Helm index ingest (issue 3)"
CHART = "astro-remote-execution-agent"
SHARED = HERE.parent.parent / "shared" / "fixtures" / "helm" / "opentelemetry-2026-08-20-large.yaml"


def _entry(chart: str, index: int) -> str:
    major, minor, patch = index // 100, (index // 10) % 10, index % 10
    version = f"{major}.{minor}.{patch}"
    day = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=7 * index)
    return (
        "  - annotations:\n"
        "      artifacthub.io/changes: |\n"
        f'        - kind: changed\n          description: "Bump {chart} to {version}; see release notes"\n'
        '        - kind: fixed\n          description: "Probes, resources and default values reviewed"\n'
        "        - kind: security\n"
        '          description: "Base image rebuilt for the latest OS security patches"\n'
        "      artifacthub.io/images: |\n"
        f"        - name: {chart}\n          image: registry.example.test/{chart}:{version}\n"
        "    apiVersion: v2\n"
        f"    appVersion: 1.{index % 40}.{index % 7}\n"
        f'    created: "{day.strftime("%Y-%m-%dT%H:%M:%S")}.123456789Z"\n'
        f"    description: The {chart} chart for Kubernetes, with workers, sentinel, an API and metrics\n"
        f"    digest: {index:064x}\n"
        "    home: https://charts.example.test/\n"
        "    keywords:\n    - agent\n    - workers\n    kubeVersion: '>=1.25.0-0'\n"
        "    maintainers:\n    - email: platform@example.test\n      name: platform-team\n"
        f"    name: {chart}\n"
        "    sources:\n    - https://github.com/example/charts\n    type: application\n"
        f"    urls:\n    - https://charts.example.test/{chart}-{version}.tgz\n"
        f"    version: {version}\n"
    )


def generate(path: Path) -> tuple[int, int]:
    """Write the index; returns (bytes, versions)."""
    charts = [f"chart-{n:03d}" for n in range(60)]
    charts.insert(30, CHART)
    versions = 0
    with path.open("w") as out:
        out.write("apiVersion: v1\nentries:\n")
        for chart in charts:
            count = 300 if chart == CHART else 255
            out.write(f"  {chart}:\n")
            for index in range(count, 0, -1):
                out.write(_entry(chart, index))
                versions += 1
        out.write('generated: "2026-08-20T18:14:42.778114909Z"\n')
    return path.stat().st_size, versions


def measure(mode: str, path: str) -> dict[str, float]:
    """Run in a child process: one ingest of ``path``; prints wall seconds and peak RSS."""
    body = Path(path).read_bytes()
    result: dict[str, float] = {}
    if mode == "ours":
        with tempfile.TemporaryDirectory() as folder:
            engine = create_engine_for(f"sqlite:///{folder}/bench.db")
            upgrade(engine)
            started = time.perf_counter()
            parsed = parse_helm_index(body, chart=CHART)
            result["parse_s"] = time.perf_counter() - started
            Store(engine).record("chart-index", "http://bench", parsed.releases, seen_at=datetime.now(UTC))
            result["wall_s"] = time.perf_counter() - started
            result["versions"] = len(parsed.releases)
            engine.dispose()
    else:
        started = time.perf_counter()
        document = yaml.load(body, Loader=yaml.CSafeLoader)
        result["wall_s"] = time.perf_counter() - started
        result["versions"] = len(document["entries"][CHART])
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _child(mode: str, path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", mode, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(output))


def _baseline_rss() -> float:
    code = "import resource, yaml, supportwatch.sources.helm, supportwatch.store;"
    code += "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    return float(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )


def poll_304_cost(path: Path, rounds: int = 50) -> dict[str, float]:
    """Median wall time of a poll the server answers 304 (one request, nothing parsed)."""
    body = path.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("If-None-Match") == '"bench"':
                self.send_response(304)
                self.send_header("ETag", '"bench"')
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", '"bench"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/index.yaml"
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{folder}/bench.db",
                "http": {"allow_private_networks": True},
                "sources": [{"name": "chart-index", "kind": "helm", "url": url, "chart": CHART}],
            }
        )
        service = Service.open(settings)
        try:
            now = datetime.now(UTC)
            started = time.perf_counter()
            [first] = service.poll(now)
            first_s = time.perf_counter() - started
            times = []
            for round_ in range(rounds):
                started = time.perf_counter()
                [outcome] = service.poll(now + timedelta(minutes=round_ + 1))
                times.append(time.perf_counter() - started)
                assert outcome.status == "unchanged", outcome
                assert outcome.requests == 1, outcome
        finally:
            service.close()
            httpd.shutdown()
            httpd.server_close()
    return {"first_poll_s": first_s, "median_304_ms": statistics.median(times) * 1000, "first_new": first.new}


def _table(
    size: int,
    versions: int,
    ours: dict[str, float],
    full: dict[str, float],
    poll: dict[str, float],
    real: dict[str, float] | None,
    base: float,
) -> str:
    speedup = full["wall_s"] / ours["wall_s"]
    lines = [
        SECTION,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}: `.venv/bin/python bench/helm_bench.py`.",
        f"Generated index: {size / 1e6:.1f} MB, {versions:,} versions in 61 charts; the tracked chart "
        f"`{CHART}` has {int(ours['versions'])} versions. Each measurement runs in a fresh process "
        f"(interpreter + imports alone: {base:.0f} MiB peak RSS).",
        "",
        "| ingest | wall | peak RSS |",
        "|---|---|---|",
        f"| ours: `parse_helm_index` + record 300 versions in SQLite | {ours['wall_s']:.3f} s "
        f"(parse {ours['parse_s']:.3f} s) | {ours['peak_rss_mib']:.0f} MiB |",
        f"| plain `yaml.load(CSafeLoader)` of the whole file | {full['wall_s']:.2f} s | "
        f"{full['peak_rss_mib']:.0f} MiB |",
        "",
        f"Ours is **{speedup:.0f}x faster** (target >= 10x) at **{ours['peak_rss_mib']:.0f} MiB** peak "
        "(target < 150 MiB).",
    ]
    if real is not None:
        lines += [
            "",
            f"Real index (shared fixture opentelemetry-2026-08-20-large.yaml, 1 MB, chart "
            f"opentelemetry-collector): ours {real['ours_ms']:.0f} ms vs full CSafeLoader "
            f"{real['full_ms']:.0f} ms.",
        ]
    lines += [
        "",
        f"304 poll (loopback server, ETag matches, SQLite store): median **{poll['median_304_ms']:.1f} ms** "
        "per poll over 50 polls: one request, no body, nothing parsed, state row updated. "
        f"The first (200) poll of the same index took {poll['first_poll_s']:.2f} s "
        "including the transfer, parse and record.",
        "",
    ]
    return "\n".join(lines)


def _real_index() -> dict[str, float] | None:
    if not SHARED.exists():
        return None
    body = SHARED.read_bytes()
    started = time.perf_counter()
    parse_helm_index(body, chart="opentelemetry-collector")
    ours = time.perf_counter() - started
    started = time.perf_counter()
    yaml.load(body, Loader=yaml.CSafeLoader)
    return {"ours_ms": ours * 1000, "full_ms": (time.perf_counter() - started) * 1000}


def write_section(text: str) -> None:
    """Replace (or append) only our section of RESULTS.md."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(SECTION)
    if start < 0:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    after = current.find("\n## ", start + len(SECTION))
    tail = current[after + 1 :] if after >= 0 else ""
    RESULTS.write_text(current[:start] + text + ("\n" + tail if tail else ""))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.yaml"
        size, versions = generate(path)
        base = _baseline_rss()
        ours = _child("ours", path)
        full = _child("full", path)
        assert ours["versions"] == full["versions"] == 300
        poll = poll_304_cost(path)
    real = _real_index()
    text = _table(size, versions, ours, full, poll, real, base)
    print(text)
    if "--no-write" not in sys.argv:
        write_section(text)


if __name__ == "__main__":
    main()
