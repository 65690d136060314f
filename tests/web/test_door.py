"""``Service`` is the one door: the web and the CLI read only through its methods.

The read methods are checked against what the routes serve, and the entry points' source
against reaching past the door (the store, the engine) or special-casing a source kind.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import supportwatch
from supportwatch.migrations import head_revision
from supportwatch.service import Readiness, Service, UnknownTeam

from .fleet import NOW

PACKAGE = Path(supportwatch.__file__).parent
ENTRY_POINTS = [*sorted((PACKAGE / "web").glob("*.py")), PACKAGE / "cli.py"]
# only the wiring names the kinds; everything else goes through the Source protocol
KIND_BLIND = [*ENTRY_POINTS, PACKAGE / "service.py", PACKAGE / "sources" / "poll.py"]


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda path: path.name)
def test_entry_points_never_reach_past_the_service(path: Path) -> None:
    tree = ast.parse(path.read_text())
    reached = [
        f"{path.name}:{node.lineno} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in {"store", "engine", "fetcher"}
    ]
    assert reached == []


@pytest.mark.parametrize("path", KIND_BLIND, ids=lambda path: path.name)
def test_no_source_kind_is_special_cased(path: Path) -> None:
    tree = ast.parse(path.read_text())
    special = [
        f"{path.name}:{getattr(node, 'lineno', 0)}"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "StaticSource")
        or (isinstance(node, ast.alias) and node.name == "StaticSource")
        or (
            isinstance(node, ast.Compare)
            and any(isinstance(item, ast.Constant) and item.value == "static" for item in node.comparators)
        )
    ]
    assert special == []


def test_reports_of_a_team_and_an_unknown_team(service: Service) -> None:
    assert service.teams(NOW) == ["analytics", "platform"]
    platform = service.reports(NOW, "platform")
    assert {report.deployment.team for report in platform} == {"platform"}
    assert len(service.reports(NOW)) == len(service.evaluate(NOW))
    with pytest.raises(UnknownTeam) as info:
        service.reports(NOW, "nobody")
    assert str(info.value) == "team 'nobody' owns no tracked deployment; known teams: analytics, platform"


def test_the_calendar_is_assembled_once_for_the_cli_and_the_web(service: Service, client: TestClient) -> None:
    assert client.get("/calendar.ics").content == service.calendar(NOW)
    assert client.get("/calendar/platform.ics").content == service.calendar(NOW, "platform")
    with pytest.raises(UnknownTeam):
        service.calendar(NOW, "nobody")
    assert client.get("/calendar/nobody.ics").json() == {
        "detail": "team 'nobody' owns no tracked deployment; known teams: analytics, platform"
    }


def test_source_statuses_show_every_configured_source(service: Service) -> None:
    statuses = {status.name: status for status in service.source_statuses()}
    assert list(statuses) == ["fixture", "chart-index"]  # config order
    fixture = statuses["fixture"]
    assert (fixture.kind, fixture.url, fixture.polled) == ("static", None, False)
    # applied through the same poll as every source: its state says when
    assert fixture.state.last_success_at == NOW
    assert fixture.state.consecutive_failures == 0
    chart = statuses["chart-index"]
    assert (chart.kind, chart.polled) == ("helm", True)
    assert chart.url == "https://charts.example.com/index.yaml"  # no credentials, no query
    assert chart.state.consecutive_failures == 4


def test_a_static_source_is_never_stale(service: Service) -> None:
    # its state is only refreshed when a command applies it: it is not polled, so never stale
    assert [finding.subject for finding in service.health_findings(NOW.replace(year=2027))] == ["chart-index"]


def test_readiness_at_head(service: Service) -> None:
    assert service.readiness() == Readiness(head_revision())
