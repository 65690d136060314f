"""The JSON API: the same documents as the CLI, source health and dead letters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from supportwatch.report import check_document, releases_document
from supportwatch.service import Service

from .fleet import NOW


def test_deployments_is_the_check_document(client: TestClient, service: Service) -> None:
    response = client.get("/api/v1/deployments")
    assert response.status_code == 200
    expected = check_document(service.evaluate(NOW), NOW, client.app.state.web.health_findings(NOW))  # type: ignore[attr-defined]
    assert response.json() == expected
    assert {item["name"] for item in expected["deployments"]} >= {"current", "eol", "floating"}
    assert [item["kind"] for item in expected["data_health"]] == ["source_stale"]


def test_deployments_of_one_team(client: TestClient) -> None:
    names = {item["name"] for item in client.get("/api/v1/deployments?team=platform").json()["deployments"]}
    assert names == {"current", "eol"}
    unknown = client.get("/api/v1/deployments?team=nobody")
    assert unknown.status_code == 404
    assert "analytics, platform" in unknown.json()["detail"]


def test_one_deployment(client: TestClient) -> None:
    item = client.get("/api/v1/deployments/eol").json()
    assert item["name"] == "eol"
    assert item["state"] == "unmaintained"
    assert item["end_of_maintenance"] == "2026-07-10"
    assert item["findings"][0]["severity"] == "critical"
    missing = client.get("/api/v1/deployments/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "no tracked deployment named 'nope'; list them at /api/v1/deployments"
    }


def test_releases_is_the_releases_document(client: TestClient, service: Service) -> None:
    document = client.get("/api/v1/releases").json()
    assert document == releases_document(service.releases(), service.catalog(NOW), None)
    charts = client.get("/api/v1/releases", params={"component": "chart"}).json()
    assert {item["component"] for item in charts["releases"]} == {"chart"}
    assert charts["minors"] == []
    assert client.get("/api/v1/releases", params={"component": "helm"}).status_code == 422


def test_sources_show_health_without_credentials(client: TestClient) -> None:
    by_name = {item["name"]: item for item in client.get("/api/v1/sources").json()["sources"]}
    assert by_name["fixture"]["polled"] is False
    chart = by_name["chart-index"]
    assert chart["url"] == "https://charts.example.com/index.yaml"
    assert chart["consecutive_failures"] == 4
    assert chart["last_success_at"] == "2026-07-01T00:00:00+00:00"
    assert chart["last_error"].startswith("HTTP 401 with token ***")


def test_dead_letters(client: TestClient) -> None:
    [item] = client.get("/api/v1/dead-letters").json()["dead_letters"]
    assert item["target"] == "platform/slack"
    assert item["key"] == "eol:1"
    assert item["last_error"] == "invalid_auth posting to ***"
