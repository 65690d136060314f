"""Benchmark: failover of `supportwatch run` replicas on one PostgreSQL, and their throughput.

Three replicas (default settings: an election every `schedule.leader_retry_seconds`) on a
throwaway PostgreSQL on 127.0.0.1, with a loopback chart index, Slack webhook and SMTP server.
Each try SIGKILLs the leader and measures the time to the first job of the new leader (its
first poll of the chart index), then restarts the killed replica. Then the same notification
workload (many receivers, Slack and email each) is delivered by one replica and by three.

    .venv/bin/python bench/failover_bench.py [--tries 5] [--teams 40] [--deployments 400]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sqlalchemy import text

from pgserver import postgres_cluster
from replicas import (
    Loopback,
    Mailbox,
    loopback_http,
    migrate,
    smtp_sink,
    start_replica,
    stop_all,
    the_leader,
    wait_for,
    write_config,
)
from supportwatch.engine import create_engine_for

BOUND = 30.0


def _database(server: str, name: str) -> str:
    admin = create_engine_for(f"{server}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def failovers(server: str, folder: Path, tries: int) -> list[float]:
    with loopback_http() as loopback, smtp_sink() as mailbox:
        config = write_config(
            folder, _database(server, "failover"), loopback, mailbox, leader_retry_seconds=None
        )
        migrate(config)
        replicas = [start_replica(config, folder, f"replica-{index}") for index in range(3)]
        times: list[float] = []
        try:
            for attempt in range(tries):
                leader = the_leader(replicas)
                time.sleep(1)  # let it finish its first jobs
                leader.signal(signal.SIGKILL)
                killed = time.monotonic()
                leader.process.wait(timeout=10)
                took = wait_for(partial(_polled_since, loopback, killed), 120, "a follower polls")
                times.append(took)
                print(f"  try {attempt + 1}: the new leader's first job {took:.2f} s after the kill")
                index = replicas.index(leader)
                replicas[index] = start_replica(config, folder, f"replica-{index}-{attempt}")
        finally:
            stop_all(replicas)
    return times


def throughput(server: str, folder: Path, count: int, teams: int, deployments: int) -> float:
    """Seconds from start until every alert and digest of the workload went out."""
    with loopback_http() as loopback, smtp_sink() as mailbox:
        url = _database(server, f"throughput{count}")
        config = write_config(folder, url, loopback, mailbox, deployments=deployments, teams=teams)
        migrate(config)
        started = time.monotonic()
        replicas = [start_replica(config, folder, f"load-{count}-{index}") for index in range(count)]
        try:
            # per team: one Slack alert and one email alert, and the digest by email
            wait_for(lambda: _delivered(loopback, mailbox) >= 3 * teams, 300, "every delivery")
            return time.monotonic() - started
        finally:
            stop_all(replicas)


def _polled_since(loopback: Loopback, moment: float) -> bool:
    return bool(loopback.polls_after(moment))


def _delivered(loopback: Loopback, mailbox: Mailbox) -> int:
    return len(loopback.slack) + len(mailbox.messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--deployments", type=int, default=400)
    args = parser.parse_args()
    with postgres_cluster(max_connections=100) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"failover, {args.tries} tries, 3 replicas, default settings:")
        times = failovers(server, folder, args.tries)
        print(
            f"failover min {min(times):.2f} s, median {statistics.median(times):.2f} s, "
            f"max {max(times):.2f} s (bound {BOUND:.0f} s: {'met' if max(times) <= BOUND else 'NOT met'})"
        )
        for count in (1, 3):
            took = throughput(server, folder, count, args.teams, args.deployments)
            print(
                f"{count} replica(s): {args.deployments} deployments, {args.teams} receivers: "
                f"every alert and digest delivered {took:.2f} s after start"
            )


if __name__ == "__main__":
    main()
