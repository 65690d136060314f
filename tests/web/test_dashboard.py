"""The HTML dashboard: the fleet, upcoming ends, data health, dead letters; untrusted text escaped."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_dashboard_shows_the_fleet(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<span class="state unmaintained">unmaintained</span>' in page
    assert "2026-07-10" in page  # eol's end of maintenance
    assert "Upcoming ends of maintenance" in page
    upcoming = page.split("Upcoming ends of maintenance")[1].split("Data health")[0]
    assert "<td>1.6</td>" in upcoming
    # 1.7 and 2.0 are the newest minors of their majors: no end is due while they are
    assert "<td>1.7</td>" not in upcoming
    assert "<td>2.0</td>" not in upcoming
    assert "2026-10-16" in page  # agent 1.6
    # 1.7 is the newest minor of major 1: maintained until a newer one ships, no countdown
    assert "newest minor: open" in page
    # an unknown agent version has no window at all, open or not
    [typo_row] = [row for row in page.split("<tr") if ">typo<" in row]
    assert "newest minor: open" not in typo_row
    for link in ('href="/calendar.ics"', 'href="/calendar/platform.ics"', 'href="/api/v1/deployments"'):
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
