"""``/metrics``: the fleet, catalog, sources and deliveries from the app's own registry."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from supportwatch.notify.log import DeliveryKey, DeliveryLog
from supportwatch.service import Service
from supportwatch.web import create_app
from supportwatch.web.metrics import JobStats

from .fleet import NOW

PROMTOOL = "/usr/bin/promtool"


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_gauges_read_the_store(client: TestClient) -> None:
    found = samples(client)
    assert found[("supportwatch_deployments", (("state", "unmaintained"),))] >= 1
    assert sum(v for (name, _), v in found.items() if name == "supportwatch_deployments") == 9
    assert found[("supportwatch_findings", (("kind", "end_of_maintenance"), ("severity", "critical")))] >= 1
    assert found[("supportwatch_findings", (("kind", "source_stale"), ("severity", "warning")))] == 1
    assert found[("supportwatch_releases", (("component", "chart"),))] == 3
    assert found[("supportwatch_source_consecutive_failures", (("source", "chart-index"),))] == 4
    assert found[("supportwatch_source_last_success_timestamp_seconds", (("source", "chart-index"),))] > 1.7e9
    assert found[("supportwatch_dead_letters", ())] == 1


def test_requests_are_counted_by_route_template(client: TestClient) -> None:
    client.get("/api/v1/deployments/eol")
    client.get("/api/v1/deployments/nope")
    client.get("/no/such/page")
    found = samples(client)
    template = "/api/v1/deployments/{name}"
    assert (
        found[
            ("supportwatch_http_requests_total", (("method", "GET"), ("route", template), ("status", "200")))
        ]
        == 1
    )
    assert (
        found[
            ("supportwatch_http_requests_total", (("method", "GET"), ("route", template), ("status", "404")))
        ]
        == 1
    )
    assert (
        found[
            (
                "supportwatch_http_requests_total",
                (("method", "GET"), ("route", "unmatched"), ("status", "404")),
            )
        ]
        == 1
    )


def test_the_global_registry_is_untouched(client: TestClient) -> None:
    client.get("/metrics")
    assert REGISTRY.get_sample_value("supportwatch_dead_letters") is None


def test_each_deployment_its_state_and_days_left(client: TestClient) -> None:
    found = samples(client)
    eol = (("deployment", "eol"), ("state", "unmaintained"), ("team", "platform"))
    assert found[("supportwatch_deployment_state", eol)] == 1
    # agent 1.3 left maintenance on 2026-07-10; NOW is 2026-08-01
    left = ("supportwatch_deployment_maintenance_left_seconds", (("deployment", "eol"), ("team", "platform")))
    assert found[left] == -22 * 86_400
    states = [labels for (name, labels) in found if name == "supportwatch_deployment_state"]
    assert len(states) == 9  # one series per deployment
    assert found[("supportwatch_leader", ())] == 0  # this app runs no scheduler


def test_deliveries_by_state_and_kind(client: TestClient, service: Service) -> None:
    log = DeliveryLog(service.engine)
    sent = DeliveryKey.parse("behind:1")
    log.claim("analytics/slack", sent, now=NOW, lease_seconds=60, summary="s", payload={})
    log.mark_sent("analytics/slack", [sent], now=NOW)
    log.claim(
        "platform/email", DeliveryKey.parse("behind:2"), now=NOW, lease_seconds=60, summary="s", payload={}
    )
    found = samples(client)  # a write is seen at once
    assert found[("supportwatch_deliveries", (("kind", "slack"), ("state", "dead")))] == 1
    assert found[("supportwatch_deliveries", (("kind", "slack"), ("state", "sent")))] == 1
    assert found[("supportwatch_deliveries", (("kind", "email"), ("state", "claimed")))] == 1
    assert found[("supportwatch_dead_letters", ())] == 1


def test_jobs_and_the_leader(service: Service) -> None:
    jobs = JobStats(clock=iter([0.0, 1.5, 10.0, 10.25, 20.0, 20.5]).__next__)

    def poll(_: datetime) -> None:
        return None

    def boom(_: datetime) -> None:
        raise RuntimeError("down")

    jobs.timed("poll:chart-index", poll)(NOW)
    jobs.timed("poll:chart-index", poll)(NOW)
    with pytest.raises(RuntimeError):
        jobs.timed("notify", boom)(NOW)
    app = create_app(service.settings, service=service, clock=lambda: NOW, leader=lambda: True, jobs=jobs)
    with TestClient(app) as client:
        found = samples(client)
    assert found[("supportwatch_leader", ())] == 1
    assert found[("supportwatch_job_runs_total", (("job", "poll:chart-index"),))] == 2
    assert found[("supportwatch_job_failures_total", (("job", "notify"),))] == 1
    assert found[("supportwatch_job_duration_seconds_count", (("job", "poll:chart-index"),))] == 2
    assert found[("supportwatch_job_duration_seconds_sum", (("job", "poll:chart-index"),))] == 1.75
    assert found[("supportwatch_source_last_poll_duration_seconds", (("source", "chart-index"),))] == 0.25


def test_a_real_scrape_passes_promtool(client: TestClient) -> None:
    if not shutil.which(PROMTOOL):
        pytest.fail(f"{PROMTOOL} is missing: apt-get install prometheus")
    client.get("/api/v1/deployments")  # some requests counted
    scrape = client.get("/metrics").content
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=scrape, capture_output=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
