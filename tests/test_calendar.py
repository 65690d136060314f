"""The ICS feed, parsed back with icalendar: windows, exclusive ends, reminders, team feeds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event
from typer.testing import CliRunner

from supportwatch.calendar import feed, feed_stamp, render_calendar, team_deployments
from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate
from supportwatch.cli import app
from supportwatch.config import StaticSource, load_settings
from supportwatch.policy import MaintenancePolicy, MinorWindow, minor_windows
from supportwatch.sources.static import static_releases
from supportwatch.values import Release
from supportwatch.versions import AgentVersion

FIXTURE = Path(__file__).parent / "fixtures" / "every-finding.yaml"
POLICY = MaintenancePolicy(id="test-policy", wording="6 months from the .0 release")
NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def windows(*pairs: tuple[str, date]) -> list[MinorWindow]:
    return list(minor_windows([(AgentVersion.parse(v), d) for v, d in pairs], POLICY).values())


def events(body: bytes) -> dict[str, Event]:
    calendar = Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT") if isinstance(event, Event)}


def test_window_is_an_all_day_event_with_an_exclusive_end() -> None:
    body = render_calendar(windows(("1.3.0", date(2026, 1, 28))), now=NOW, policy=POLICY)
    calendar = Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0"
    assert "supportwatch" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == "Astro agent maintenance"
    window = events(body)["agent-1.3-maintenance@supportwatch"]
    assert window.decoded("DTSTART") == date(2026, 1, 28)
    assert window.decoded("DTEND") == date(2026, 7, 28)
    assert window.decoded("DTSTAMP") == NOW
    assert str(window["SUMMARY"]) == "Agent 1.3 maintained (ends 2026-07-28)"
    assert "test-policy" in str(window["DESCRIPTION"])
    assert "estimated" not in str(window["DESCRIPTION"])


def test_end_event_carries_one_alarm_per_rung_and_one_on_the_day() -> None:
    body = render_calendar(windows(("1.3.0", date(2026, 1, 28))), now=NOW, policy=POLICY)
    end = events(body)["agent-1.3-end@supportwatch"]
    assert str(end["SUMMARY"]) == "Agent 1.3 end of maintenance"
    assert end.decoded("DTSTART") == date(2026, 7, 28)
    assert end.decoded("DTEND") == date(2026, 7, 29)
    triggers = [alarm.decoded("TRIGGER") for alarm in end.walk("VALARM")]
    assert triggers == [timedelta(days=-d) for d in (60, 30, 14, 7, 1)] + [timedelta(0)]
    assert all(str(alarm["ACTION"]) == "DISPLAY" for alarm in end.walk("VALARM"))
    texts = [str(alarm["DESCRIPTION"]) for alarm in end.walk("VALARM")]
    assert texts[-3:] == [
        "Agent 1.3 leaves maintenance in 7 days",
        "Agent 1.3 leaves maintenance tomorrow",
        "Agent 1.3 leaves maintenance today",
    ]


def test_month_end_is_clamped_and_an_unknown_dot_zero_is_estimated() -> None:
    body = render_calendar(
        windows(("1.4.0", date(2025, 8, 31)), ("1.5.2", date(2026, 3, 2))),
        now=NOW,
        policy=POLICY,
    )
    found = events(body)
    assert found["agent-1.4-maintenance@supportwatch"].decoded("DTEND") == date(2026, 2, 28)
    estimated = found["agent-1.5-maintenance@supportwatch"]
    assert estimated.decoded("DTEND") == date(2026, 9, 2)
    assert "estimated" in str(estimated["SUMMARY"])
    assert "estimated" in str(estimated["DESCRIPTION"])


def test_output_is_byte_for_byte_reproducible_and_sorted_by_minor() -> None:
    pairs = (("1.10.0", date(2026, 2, 1)), ("1.3.0", date(2026, 1, 28)), ("1.9.0", date(2025, 9, 1)))
    first = render_calendar(windows(*pairs), now=NOW, policy=POLICY)
    again = render_calendar(list(reversed(windows(*pairs))), now=NOW, policy=POLICY)
    assert first == again
    uids = [str(e["UID"]) for e in Calendar.from_ical(first).walk("VEVENT")]
    assert uids[0].startswith("agent-1.3-") and uids[-1].startswith("agent-1.10-")


def test_open_ended_minor_has_no_end_event() -> None:
    body = render_calendar(
        windows(("1.3.0", date(2026, 1, 28))),
        now=NOW,
        policy=POLICY,
        open_ended=[(1, 3)],
    )
    assert set(events(body)) == {"agent-1.3-maintenance@supportwatch"}


def test_team_filter_keeps_its_minors_and_names_its_deployments() -> None:
    body = render_calendar(
        windows(("1.3.0", date(2026, 1, 28)), ("1.6.0", date(2026, 4, 16))),
        now=NOW,
        policy=POLICY,
        deployments_by_minor={(1, 6): ["prod-east", "prod-west"]},
        uid_suffix=".team-data",
    )
    found = events(body)
    assert set(found) == {
        "agent-1.6-maintenance.team-data@supportwatch",
        "agent-1.6-end.team-data@supportwatch",
    }
    assert "prod-east, prod-west" in str(found["agent-1.6-end.team-data@supportwatch"]["DESCRIPTION"])


def test_feed_stamp_is_the_start_of_the_day_in_the_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert feed_stamp(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), berlin) == datetime(
        2026, 3, 1, 23, 0, tzinfo=UTC
    )


def fixture_inputs(monkeypatch: pytest.MonkeyPatch, at: datetime) -> tuple[Catalog, list[DeploymentReport]]:
    monkeypatch.setenv("SW_TEST_DB", "sqlite://")
    settings = load_settings(FIXTURE)
    releases: list[Release] = [
        item
        for source in settings.sources
        if isinstance(source, StaticSource)
        for item in static_releases(source)
    ]
    catalog = Catalog.build(releases, policy=settings.maintenance_policy(), today=at.date())
    reports = evaluate(
        settings.deployment_values(), releases, settings.maintenance_policy(), rules=settings.rules(), now=at
    )
    return catalog, list(reports)


def test_feed_for_the_fixture_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime(2026, 8, 1, tzinfo=UTC)
    catalog, reports = fixture_inputs(monkeypatch, at)
    full = events(feed(catalog, reports, now=at, tz=ZoneInfo("UTC")))
    # 2.0.0 (2026-07-15) counts from 2026-07-22: 2.0 is the newest stable minor and open-ended,
    # and 1.7, the last minor of major 1, follows its own window to 2027-01-01
    assert full["agent-1.7-end@supportwatch"].decoded("DTSTART") == date(2027, 1, 1)
    assert "agent-2.0-end@supportwatch" not in full
    assert full["agent-1.6-end@supportwatch"].decoded("DTSTART") == date(2026, 10, 16)
    by_minor = team_deployments(reports, "platform")
    assert by_minor == {(1, 3): ["eol"], (1, 7): ["current"]}
    platform = events(feed(catalog, reports, now=at, tz=ZoneInfo("UTC"), team="platform"))
    assert set(platform) == {
        "agent-1.3-maintenance.team-platform@supportwatch",
        "agent-1.3-end.team-platform@supportwatch",
        "agent-1.7-maintenance.team-platform@supportwatch",
        "agent-1.7-end.team-platform@supportwatch",
    }


def test_cli_writes_the_feed_and_refuses_an_unknown_team(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SW_TEST_DB", sqlite_url)
    runner = CliRunner()
    out = tmp_path / "team.ics"
    result = runner.invoke(
        app, ["--config", str(FIXTURE), "calendar", "--team", "analytics", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert any("team-analytics" in str(e["UID"]) for e in Calendar.from_ical(out.read_bytes()).walk("VEVENT"))
    stdout = runner.invoke(app, ["--config", str(FIXTURE), "calendar"])
    assert stdout.exit_code == 0
    assert stdout.stdout.startswith("BEGIN:VCALENDAR")
    unknown = runner.invoke(app, ["--config", str(FIXTURE), "calendar", "--team", "nobody"])
    assert unknown.exit_code == 2
    assert "'nobody'" in unknown.stderr and "analytics, platform" in unknown.stderr
