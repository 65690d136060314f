"""The read token and the calendar feed tokens in front of the routes (``web/auth.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from supportwatch.config import Settings, WebSettings
from supportwatch.service import Service
from supportwatch.tokens import cookie_value, new_token
from supportwatch.web import create_app

from .fleet import NOW, open_service

READ = "readTokenS3CR3T-" + "x" * 16
OPEN = ("/healthz", "/readyz", "/metrics")
GUARDED = ("/", "/api/v1/deployments", "/api/v1/releases", "/api/v1/sources", "/nowhere")


def with_web(settings: Settings, tmp_path: Path, **web: Any) -> Settings:
    """``settings`` with these ``web`` keys; ``read_token=...`` goes through a token file."""
    read = web.pop("read_token", None)
    if read is not None:
        holder = tmp_path / "read-token"
        holder.write_text(read + "\n")
        web["read_token_file"] = str(holder)
    return settings.model_copy(update={"web": WebSettings.model_validate(web)})


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[TestClient, Service]]:
    service = open_service(settings)
    try:
        with TestClient(
            create_app(settings, service=service, clock=lambda: NOW), follow_redirects=False
        ) as client:
            yield client, service
    finally:
        service.close()


def test_without_tokens_everything_stays_open(sqlite_settings: Settings) -> None:
    with serving(sqlite_settings) as (client, _):
        for path in (*OPEN, *GUARDED[:-1], "/calendar.ics", "/calendar/platform.ics"):
            assert client.get(path).status_code == 200, path
        # a token where none is checked is ignored, not refused
        assert client.get("/calendar/platform.ics", params={"token": "whatever"}).status_code == 200
        assert client.get("/calendar/nobody.ics").status_code == 404


def test_the_read_token_guards_pages_and_api_but_not_probes_or_metrics(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    with serving(with_web(sqlite_settings, tmp_path, read_token=READ)) as (client, _):
        for path in OPEN:
            assert client.get(path).status_code == 200, path
        for path in GUARDED:
            missing = client.get(path)
            assert missing.status_code == 401, path
            assert missing.headers["www-authenticate"] == 'Bearer realm="supportwatch"'
            assert missing.headers["cache-control"] == "no-store"
            assert "read token" in missing.json()["detail"]
            wrong = client.get(path, headers={"Authorization": "Bearer " + READ[:-1]})
            assert wrong.status_code == 401, path
            assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        assert (
            client.get("/api/v1/deployments", headers={"Authorization": f"Bearer {READ}"}).status_code == 200
        )
        assert client.get("/", headers={"Authorization": f"bearer {READ}"}).status_code == 200
        # another scheme is no bearer token
        assert client.get("/", headers={"Authorization": f"Basic {READ}"}).status_code == 401
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 401
        assert page.headers["content-type"].startswith("text/html")
        assert "?token=" in page.text
        assert client.head("/api/v1/deployments").status_code == 401
        assert (
            client.head("/api/v1/deployments", headers={"Authorization": f"Bearer {READ}"}).status_code == 200
        )


def test_a_query_token_sets_a_cookie_and_redirects_to_the_url_without_it(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    with serving(with_web(sqlite_settings, tmp_path, read_token=READ)) as (client, _):
        answer = client.get("/", params={"team": "platform", "token": READ})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/?team=platform"
        assert answer.headers["referrer-policy"] == "no-referrer"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"supportwatch_read={cookie_value(READ)};")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http, no https public URL
        assert READ not in cookie
        assert client.get("/?team=platform").status_code == 200  # the client kept the cookie
        assert client.get("/api/v1/deployments").status_code == 200
        client.cookies.clear()
        assert client.get("/api/v1/deployments").status_code == 401
        client.cookies.set("supportwatch_read", READ)  # the token itself is not the cookie
        assert client.get("/api/v1/deployments").status_code == 401
        client.cookies.clear()
        wrong = client.get("/", params={"token": READ + "x"})
        assert wrong.status_code == 401
        assert "set-cookie" not in wrong.headers


def test_the_redirect_stays_on_this_site(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = with_web(sqlite_settings, tmp_path, read_token=READ, public_url="https://sw.example.com/")
    with serving(settings) as (client, _):
        for path in ("//evil.example/x", "/\\evil.example/x"):
            answer = client.get(f"http://testserver{path}", params={"token": READ})
            assert answer.status_code == 303
            location = answer.headers["location"]
            assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        # an https public URL makes the cookie https-only
        assert "Secure" in client.get("/", params={"token": READ}).headers["set-cookie"]


def feed(client: TestClient, team: str | None, token: str | None = None) -> Any:
    path = "/calendar.ics" if team is None else f"/calendar/{team}.ics"
    return client.get(path, params={"token": token} if token is not None else None)


def test_required_feed_tokens(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = with_web(sqlite_settings, tmp_path, calendar_tokens="required")
    with serving(settings) as (client, service):
        token = service.issue_calendar_token("platform", NOW)
        other = service.issue_calendar_token("analytics", NOW)
        refused = [
            feed(client, "platform"),
            feed(client, "platform", token[:-1]),
            feed(client, "platform", other),  # another team's token
            feed(client, "platform", ""),
            feed(client, "nobody"),  # an unknown team looks the same: no oracle
            feed(client, "nobody", token),
            feed(client, None),  # the full feed needs the read token, and there is none
            feed(client, None, token),
        ]
        unmatched = client.get("/no/such/route")
        for answer in refused:
            assert (answer.status_code, answer.content) == (404, unmatched.content)
            assert answer.headers["content-type"] == unmatched.headers["content-type"]
        # a browser gets the page of a path no route matches, naming only the path it asked for
        html = {"Accept": "text/html"}
        page = client.get("/calendar/platform.ics", headers=html)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert page.text == client.get("/calendar/nobody.ics", headers=html).text.replace(
            "nobody", "platform"
        )
        served = feed(client, "platform", token)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/calendar")
        assert b"BEGIN:VCALENDAR" in served.content
        assert client.head(f"/calendar/platform.ics?token={token}").status_code == 200
        # rotated: the old token stops, the new one opens the feed
        rotated = service.issue_calendar_token("platform", NOW, rotate=True)
        assert feed(client, "platform", token).status_code == 404
        assert feed(client, "platform", rotated).status_code == 200
        assert client.get("/").status_code == 200  # no read token: the pages stay open


def test_required_feed_tokens_with_a_read_token(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = with_web(sqlite_settings, tmp_path, calendar_tokens="required", read_token=READ)
    with serving(settings) as (client, service):
        token = service.issue_calendar_token("analytics", NOW)
        assert feed(client, None).status_code == 404
        assert feed(client, None, token).status_code == 404
        full = feed(client, None, READ)  # calendar clients keep no cookie: no redirect on feeds
        assert full.status_code == 200
        assert "set-cookie" not in full.headers
        assert client.get("/calendar.ics", headers={"Authorization": f"Bearer {READ}"}).status_code == 200
        assert feed(client, "analytics", token).status_code == 200
        assert feed(client, "analytics", READ).status_code == 200  # the read token opens every feed
        assert feed(client, "analytics").status_code == 404
        assert client.get("/api/v1/deployments", params={"token": token}).status_code == 401


def test_optional_feed_tokens(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = with_web(sqlite_settings, tmp_path, calendar_tokens="optional")
    with serving(settings) as (client, service):
        token = service.issue_calendar_token("platform", NOW)
        assert feed(client, "platform").status_code == 200
        assert feed(client, "platform", token).status_code == 200
        assert feed(client, "platform", token[:-1]).status_code == 404  # wrong: refused, not ignored
        assert feed(client, None).status_code == 200
        service.issue_calendar_token("platform", NOW, rotate=True)
        assert feed(client, "platform", token).status_code == 404


def test_off_feed_tokens_follow_the_read_token(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = with_web(sqlite_settings, tmp_path, read_token=READ)
    with serving(settings) as (client, service):
        token = service.issue_calendar_token("platform", NOW)
        assert feed(client, "platform").status_code == 404
        assert feed(client, "platform", token).status_code == 404  # team tokens count only when on
        assert feed(client, "platform", READ).status_code == 200
        assert feed(client, None, READ).status_code == 200


def test_no_token_reaches_the_log(
    sqlite_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = with_web(sqlite_settings, tmp_path, calendar_tokens="required", read_token=READ)
    with serving(settings) as (client, service):
        token = service.issue_calendar_token("platform", NOW)
        wrong = new_token()
        for params in ({"token": token}, {"token": wrong}, {"token": READ}):
            feed(client, "platform", params["token"])
            feed(client, None, params["token"])
            client.get("/", params=params)
            client.get("/api/v1/deployments", headers={"Authorization": f"Bearer {params['token']}"})
        client.cookies.clear()
    # the test's own HTTP client logs its request URLs (the service quiets httpx: logs.QUIET)
    served = [record for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in served)
    assert "Running upgrade" in logged  # the service's own log was captured
    for secret in (token, wrong, READ, cookie_value(READ)):
        assert secret not in logged


def test_a_database_failure_while_checking_a_feed_token_is_a_503(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_web(sqlite_settings, tmp_path, calendar_tokens="required")
    with serving(settings) as (client, service):

        def broken(team: str, token: str | None) -> bool:
            raise OperationalError("SELECT", {}, Exception("database is locked"))

        monkeypatch.setattr(service, "calendar_token_matches", broken)
        answer = feed(client, "platform", "some-token")
        assert answer.status_code == 503
        assert answer.json()["status"] == "unavailable"
