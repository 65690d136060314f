"""The app behind a real uvicorn on 127.0.0.1, fetched over a socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from icalendar import Calendar

from ports import free_port
from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW


@pytest.fixture
def base_url(service: Service) -> Iterator[str]:
    port = free_port()
    app = create_app(service.settings, service=service, clock=lambda: NOW)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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
