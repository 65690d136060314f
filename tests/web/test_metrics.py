"""``/metrics``: the fleet, catalog, sources and deliveries from the app's own registry."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


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
