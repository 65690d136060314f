"""The app behind a real uvicorn on 127.0.0.1, fetched over a socket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from icalendar import Calendar

from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW
from .served import serving


@pytest.fixture
def base_url(service: Service) -> Iterator[str]:
    with serving(create_app(service.settings, service=service, clock=lambda: NOW)) as url:
        yield url


def test_healthz_and_calendar_over_a_real_socket(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.get("/calendar.ics")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/calendar; charset=utf-8"
        uids = {str(e["UID"]) for e in Calendar.from_ical(response.content).walk("VEVENT")}
        assert "agent-1.3-end@supportwatch" in uids
        again = client.get("/calendar.ics", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
