"""``/metrics``: Prometheus text exposition from the app's own registry.

Gauges are read from the store on each scrape (a custom collector), so every replica reports
the same fleet; the request counter is per process.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from supportwatch.policy import SupportState
from supportwatch.web.state import WebState, web_state

router = APIRouter(tags=["metrics"])
COMPONENTS = ("agent", "chart", "runtime")


class StoreCollector(Collector):
    """Fleet, catalog, source and delivery gauges, evaluated at scrape time with the app's clock."""

    def __init__(self, state: WebState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        service, now = self.state.service, self.state.clock()
        reports = service.evaluate(now)
        states = GaugeMetricFamily(
            "supportwatch_deployments", "Tracked deployments by state.", labels=["state"]
        )
        by_state = Tally(report.state.value for report in reports)
        for value in SupportState:
            states.add_metric([value.value], by_state[value.value])
        yield states
        findings = GaugeMetricFamily(
            "supportwatch_findings", "Open findings by kind and severity.", labels=["kind", "severity"]
        )
        found = [f for report in reports for f in report.findings] + self.state.health_findings(now)
        for (kind, severity), count in sorted(Tally((f.kind.value, f.severity.value) for f in found).items()):
            findings.add_metric([kind, severity], count)
        yield findings
        yield from self._catalog_and_sources()

    def _catalog_and_sources(self) -> Iterator[Metric]:
        service = self.state.service
        releases = GaugeMetricFamily(
            "supportwatch_releases", "Known releases by component.", labels=["component"]
        )
        by_component: Tally[str] = Tally(release.component for release in service.releases())
        for component in COMPONENTS:
            releases.add_metric([component], by_component[component])
        yield releases
        success = GaugeMetricFamily(
            "supportwatch_source_last_success_timestamp_seconds",
            "When each source last answered well (Unix time).",
            labels=["source"],
        )
        failures = GaugeMetricFamily(
            "supportwatch_source_consecutive_failures", "Failed polls in a row per source.", labels=["source"]
        )
        for item in service.source_states():
            if item.last_success_at is not None:
                success.add_metric([item.name], item.last_success_at.timestamp())
            failures.add_metric([item.name], item.consecutive_failures)
        yield success
        yield failures
        yield GaugeMetricFamily(
            "supportwatch_dead_letters", "Deliveries that failed for good.", value=len(service.dead_letters())
        )


def build_registry(state: WebState) -> tuple[CollectorRegistry, Counter]:
    """The app's own registry (never the process-global one) and its request counter."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(state))
    requests = Counter(
        "supportwatch_http_requests",
        "HTTP requests served, by method, route template and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    return registry, requests


@router.get("/metrics", response_class=Response)
def metrics(state: Annotated[WebState, Depends(web_state)]) -> Response:
    """The text exposition format."""
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
