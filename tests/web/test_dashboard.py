"""The HTML dashboard: the fleet, upcoming ends, data health, dead letters; untrusted text escaped."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_dashboard_shows_the_fleet(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<span class="badge state unmaintained">unmaintained</span>' in page
    assert "2026-07-10" in page  # eol's end of maintenance
    assert "Upcoming ends of maintenance" in page
    upcoming = page.split("Upcoming ends of maintenance")[1].split("Calendar subscriptions")[0]
    assert "<td>1.6</td>" in upcoming
    # 2.0 is the newest stable minor overall: open, no end due; 1.7, the last minor of major 1,
    # follows its own window since 2.0.0 counts (2026-07-22)
    assert "<td>1.7</td><td>2027-01-01</td>" in upcoming
    assert "<td>2.0</td>" not in upcoming
    assert "2026-10-16" in page  # agent 1.6
    # no deployment runs the newest minor, so none is open
    assert "open: newest minor (nominal" not in page
    # an unseen patch of a known minor follows that minor's window
    [typo_row] = [row for row in page.split("<tr") if ">typo<" in row]
    assert "2027-01-01" in typo_row
    for link in (
        'href="/calendar.ics"',
        'href="webcal://testserver/calendar/platform.ics"',
        'href="/api/v1/deployments"',
        'href="/deployments/eol"',
    ):
        assert link in page
    assert "<script" not in page.lower()


def test_dashboard_escapes_untrusted_text(client: TestClient) -> None:
    page = client.get("/").text
    # the stored source error (with a <script>) surfaces as data health, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert "&lt;b&gt;eol&lt;/b&gt;" not in page or "<b>eol</b>" not in page
    assert "invalid_auth posting to ***" in page


def test_dashboard_for_one_team(client: TestClient) -> None:
    page = client.get("/?team=platform").text
    assert "Deployments (2)" in page
    assert client.get("/?team=nobody").status_code == 404
