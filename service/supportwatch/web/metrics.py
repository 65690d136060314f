"""``/metrics``: Prometheus text exposition from the app's own registry (never the global one).

Read from the store at scrape time (a custom collector), so every replica reports the same
fleet: deployments by state and each one's state and time left until its end of maintenance,
findings, releases, each source's health, deliveries by state and integration kind. Per
process: HTTP requests, whether this replica leads, and the jobs it ran (``JobStats``: runs,
failures, durations, and so each source's last poll duration; only the leader runs jobs).

Every label value is bounded: deployments, teams, sources and jobs come from the config,
states, kinds and severities from fixed sets, integration kinds from the notifier kinds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from supportwatch.policy import SupportState
from supportwatch.web.state import UNAVAILABLE, WebState, web_state

router = APIRouter(tags=["metrics"])
COMPONENTS = ("agent", "chart", "runtime")
DELIVERY_STATES = ("claimed", "sent", "retry", "dead")
SECONDS_PER_DAY = 86_400
POLL_JOB = "poll:"  # the scheduler's job for source NAME is ``poll:NAME``
# a poll is seconds, a notify or digest run up to minutes (rate limits, retries)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
R = TypeVar("R")


class JobStats(Collector):
    """Job runs, failures and durations, recorded by whoever runs the jobs (thread-safe).

    ``timed(job, run)`` wraps a job's function: each call is counted and timed, and one that
    raises is counted as failed (the exception goes on to the caller). Job names come from the
    config (``poll:<source>``, ``notify``, ``digest``), so the ``job`` label is bounded.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self.runs = Counter(
            "supportwatch_job_runs", "Scheduled job runs by this process, by job.", ["job"], registry=None
        )
        self.failures = Counter(
            "supportwatch_job_failures",
            "Scheduled job runs that raised, by job (a failed poll is a source's failure, not the job's).",
            ["job"],
            registry=None,
        )
        self.durations = Histogram(
            "supportwatch_job_duration_seconds",
            "How long scheduled job runs took, by job.",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=None,
        )

    def record(self, job: str, seconds: float, *, failed: bool = False) -> None:
        """One run of ``job`` that took ``seconds``."""
        self.runs.labels(job).inc()
        if failed:
            self.failures.labels(job).inc()
        self.durations.labels(job).observe(seconds)
        with self._lock:
            self._last[job] = seconds

    def timed(self, job: str, run: Callable[[datetime], R]) -> Callable[[datetime], R]:
        """``run``, recorded as ``job`` each time it is called."""

        def timed_run(now: datetime) -> R:
            started = self.clock()
            try:
                result = run(now)
            except BaseException:
                self.record(job, self.clock() - started, failed=True)
                raise
            self.record(job, self.clock() - started)
            return result

        return timed_run

    def last_durations(self) -> dict[str, float]:
        """Each job's last run duration in seconds."""
        with self._lock:
            return dict(self._last)

    def collect(self) -> Iterator[Metric]:
        yield from self.runs.collect()
        yield from self.failures.collect()
        yield from self.durations.collect()
        polls = GaugeMetricFamily(
            "supportwatch_source_last_poll_duration_seconds",
            "How long each polled source's last poll took on this process (the leader runs them); "
            "one series per configured source.",
            labels=["source"],
        )
        for job, seconds in sorted(self.last_durations().items()):
            if job.startswith(POLL_JOB):
                polls.add_metric([job.removeprefix(POLL_JOB)], seconds)
        yield polls


class StoreCollector(Collector):
    """The fleet, catalog, source and delivery gauges, read at scrape time with the app's clock
    through the state's remembered views (rebuilt only when the store or the day changes)."""

    def __init__(self, state: WebState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        now = self.state.clock()
        yield from self._fleet(now)
        yield from self._catalog_and_sources()
        yield from self._deliveries()
        yield GaugeMetricFamily(
            "supportwatch_leader",
            "1 while this replica leads the scheduled jobs (polls, notify, digest), else 0.",
            value=1 if self.state.leading() else 0,
        )

    def _fleet(self, now: datetime) -> Iterator[Metric]:
        reports = self.state.reports(now)
        states = GaugeMetricFamily(
            "supportwatch_deployments", "Tracked deployments by state.", labels=["state"]
        )
        by_state = Tally(report.state.value for report in reports)
        for value in SupportState:
            states.add_metric([value.value], by_state[value.value])
        yield states
        each = GaugeMetricFamily(
            "supportwatch_deployment_state",
            "Each tracked deployment's state (1 on the series of its state; deployments and teams "
            "come from the config, states are current, behind, unmaintained, unknown).",
            labels=["deployment", "team", "state"],
        )
        left = GaugeMetricFamily(
            "supportwatch_deployment_maintenance_left_seconds",
            "Time until each tracked deployment's agent minor leaves maintenance, in whole days as "
            "the policy counts them (days x 86400; negative: past it); no series while the end is "
            "open or the version unknown. Deployments and teams come from the config.",
            labels=["deployment", "team"],
        )
        for report in reports:
            labels = [report.deployment.name, report.deployment.team]
            each.add_metric([*labels, report.state.value], 1)
            if report.days_left is not None and not report.open_ended:
                left.add_metric(labels, report.days_left * SECONDS_PER_DAY)
        yield each
        yield left
        findings = GaugeMetricFamily(
            "supportwatch_findings", "Open findings by kind and severity.", labels=["kind", "severity"]
        )
        found = [f for report in reports for f in report.findings] + self.state.health_findings(now)
        for (kind, severity), count in sorted(Tally((f.kind.value, f.severity.value) for f in found).items()):
            findings.add_metric([kind, severity], count)
        yield findings

    def _catalog_and_sources(self) -> Iterator[Metric]:
        releases = GaugeMetricFamily(
            "supportwatch_releases", "Known releases by component.", labels=["component"]
        )
        by_component: Tally[str] = Tally(release.component for release in self.state.releases())
        for component in COMPONENTS:
            releases.add_metric([component], by_component[component])
        yield releases
        success = GaugeMetricFamily(
            "supportwatch_source_last_success_timestamp_seconds",
            "When each source last answered well (Unix time); sources come from the config.",
            labels=["source"],
        )
        failures = GaugeMetricFamily(
            "supportwatch_source_consecutive_failures",
            "Failed polls in a row per source; sources come from the config.",
            labels=["source"],
        )
        for item in self.state.service.source_states():
            if item.last_success_at is not None:
                success.add_metric([item.name], item.last_success_at.timestamp())
            failures.add_metric([item.name], item.consecutive_failures)
        yield success
        yield failures

    def _deliveries(self) -> Iterator[Metric]:
        counted: Tally[tuple[str, str]] = Tally()
        for state, target, rows, _, _ in self.state.service.delivery_revision():
            counted[(state, target.rpartition("/")[2] or target)] += rows
        deliveries = GaugeMetricFamily(
            "supportwatch_deliveries",
            "Delivery-log rows by state (claimed, sent, retry, dead) and integration kind "
            "(slack, email, console: the part of the target after the receiver).",
            labels=["state", "kind"],
        )
        for state, kind in sorted(counted):
            deliveries.add_metric([state, kind], counted[(state, kind)])
        yield deliveries
        dead = sum(rows for (state, _), rows in counted.items() if state == "dead")
        yield GaugeMetricFamily("supportwatch_dead_letters", "Deliveries that failed for good.", value=dead)


def build_registry(state: WebState, jobs: JobStats | None = None) -> tuple[CollectorRegistry, Counter]:
    """The app's own registry (never the process-global one) and its request counter."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(state))
    registry.register(jobs if jobs is not None else JobStats())
    requests = Counter(
        "supportwatch_http_requests",
        "HTTP requests served, by method, route template and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    return registry, requests


@router.get("/metrics", response_class=Response, responses=UNAVAILABLE)
def metrics(state: Annotated[WebState, Depends(web_state)]) -> Response:
    """The text exposition format."""
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
