"""The ICS feeds over HTTP: media type, ETag revalidation, team feeds."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from icalendar import Calendar


def test_full_feed(client: TestClient) -> None:
    response = client.get("/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"].startswith("private, max-age=")
    events = {str(e["UID"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}
    window = events["agent-1.3-maintenance@supportwatch"]
    assert (window.decoded("DTSTART"), window.decoded("DTEND")) == (date(2026, 1, 10), date(2026, 7, 10))


def test_etag_revalidation(client: TestClient) -> None:
    first = client.get("/calendar.ics")
    etag = first.headers["etag"]
    assert client.get("/calendar.ics").headers["etag"] == etag  # same store, same day: same bytes
    cached = client.get("/calendar.ics", headers={"If-None-Match": f'"other", W/{etag}'})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert client.get("/calendar.ics", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_team_feed(client: TestClient) -> None:
    response = client.get("/calendar/platform.ics")
    assert response.status_code == 200
    uids = {str(e["UID"]) for e in Calendar.from_ical(response.content).walk("VEVENT")}
    assert uids == {
        "agent-1.3-maintenance.team-platform@supportwatch",
        "agent-1.3-end.team-platform@supportwatch",
        "agent-1.7-maintenance.team-platform@supportwatch",
        "agent-1.7-end.team-platform@supportwatch",
    }
    assert "eol" in response.text
    missing = client.get("/calendar/nobody.ics")
    assert missing.status_code == 404
    assert "known teams: analytics, platform" in missing.json()["detail"]
