"""Calendar feed tokens and the read token: made once, kept hashed, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from supportwatch.cli import app
from supportwatch.config import load_settings
from supportwatch.errors import ConfigError
from supportwatch.service import Service, UnknownTeam
from supportwatch.tokens import (
    CalendarTokens,
    TokenExists,
    cookie_value,
    hash_matches,
    new_token,
    secret_matches,
    token_hash,
)

NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 8, 2, 9, 0, tzinfo=UTC)
IMAGE = "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.2-2-python-3.12-astro-agent-1.6.0"
URL = re.compile(r"(?P<scheme>webcal|https?)://(?P<rest>\S+\?token=(?P<token>[A-Za-z0-9_-]+))")


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every ``hmac.compare_digest`` call the token module makes."""
    calls: list[tuple[str, str]] = []
    real: Callable[[Any, Any], bool] = hmac.compare_digest

    def spy(left: Any, right: Any) -> bool:
        calls.append((str(left), str(right)))
        return real(left, right)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module calls it as hmac.compare_digest
    return calls


def write_config(tmp_path: Path, database_url: str, web: dict[str, Any] | None = None) -> Path:
    raw: dict[str, Any] = {
        "database_url": database_url,
        "deployments": [
            {"name": "prod-east", "team": "data-platform", "image": IMAGE},
            {"name": "etl", "team": "analytics", "image": IMAGE},
        ],
    }
    if web is not None:
        raw["web"] = web
    path = tmp_path / "supportwatch.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


# --- the pure part --------------------------------------------------------------------------


def test_a_new_token_is_32_random_bytes_url_safe_and_only_its_sha256_is_kept() -> None:
    token = new_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert new_token() != token
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert len(token_hash(token)) == 64


def test_matching_is_by_hash_and_in_constant_time(compare_calls: list[tuple[str, str]]) -> None:
    token = new_token()
    stored = token_hash(token)
    assert hash_matches(token, stored)
    assert not hash_matches(token[:-1], stored)
    assert not hash_matches(None, stored)
    assert not hash_matches("", token_hash(""))  # an empty token never matches, even its own hash
    assert secret_matches(token, token)
    assert not secret_matches(token + "x", token)
    assert not secret_matches("", "")
    assert len(compare_calls) == 7
    # what is compared are hashes of equal length, never the token itself
    assert all(len(left) == len(right) == 64 and token not in (left, right) for left, right in compare_calls)


def test_the_cookie_stands_for_the_read_token_but_is_not_it() -> None:
    token = new_token()
    assert cookie_value(token) != token
    assert cookie_value(token) != token_hash(token)
    assert cookie_value(token) == cookie_value(token)


# --- the store, on both backends --------------------------------------------------------------


def test_issue_match_refuse_a_second_and_rotate(engine: Engine, compare_calls: list[tuple[str, str]]) -> None:
    store = CalendarTokens(engine)
    first = store.issue("data-platform", now=NOW)
    assert store.matches("data-platform", first)
    assert compare_calls  # the store compares through hmac.compare_digest
    assert not store.matches("data-platform", first[:-1] + ("A" if first[-1] != "A" else "B"))
    assert not store.matches("data-platform", None)
    assert not store.matches("analytics", first)  # a token opens its own team only
    with pytest.raises(TokenExists, match=r"--rotate"):
        store.issue("data-platform", now=LATER)
    assert store.matches("data-platform", first)  # refused: the old token still holds
    second = store.issue("data-platform", now=LATER, rotate=True)
    assert second != first
    assert store.matches("data-platform", second)
    assert not store.matches("data-platform", first)  # rotated away
    assert store.issued() == {"data-platform": LATER}
    third = store.issue("analytics", now=NOW, rotate=True)  # rotating a team without one issues one
    assert store.matches("analytics", third)


def test_stored_rows_hold_the_hash_never_the_token(engine: Engine) -> None:
    token = CalendarTokens(engine).issue("data-platform", now=NOW)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM calendar_token"))]
    assert len(rows) == 1
    assert token_hash(token) in rows[0]
    assert all(token not in str(value) for value in rows[0])


# --- the service and the command ------------------------------------------------------------


def test_the_service_issues_only_for_teams_that_own_a_deployment(tmp_path: Path, sqlite_url: str) -> None:
    service = Service.open(load_settings(write_config(tmp_path, sqlite_url)))
    try:
        with pytest.raises(UnknownTeam, match="known teams: analytics, data-platform"):
            service.issue_calendar_token("nobody", NOW)
        token = service.issue_calendar_token("analytics", NOW)
        assert service.calendar_token_matches("analytics", token)
        assert not service.calendar_token_matches("nobody", token)
        assert not service.read_token_matches(token)  # no read token configured: nothing matches
        assert not service.read_cookie_matches(cookie_value(token))
    finally:
        service.close()


def test_the_command_prints_the_subscribe_urls_once(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = write_config(
        tmp_path, sqlite_url, web={"public_url": "https://sw.example.com/", "calendar_tokens": "required"}
    )
    runner = CliRunner()
    result: Any = runner.invoke(app, ["--config", str(config), "calendar-token", "data-platform"])
    assert result.exit_code == 0, result.output
    urls = {match["scheme"]: match for match in URL.finditer(result.stdout)}
    assert set(urls) == {"webcal", "https"}
    token = urls["https"]["token"]
    assert urls["webcal"]["token"] == token
    assert urls["https"].group(0) == f"https://sw.example.com/calendar/data-platform.ics?token={token}"
    assert urls["webcal"].group(0) == f"webcal://sw.example.com/calendar/data-platform.ics?token={token}"
    assert result.stdout.count(token) == 2
    assert "note:" not in result.stderr

    again: Any = runner.invoke(app, ["--config", str(config), "calendar-token", "data-platform"])
    assert again.exit_code == 2
    assert "already has a calendar feed token" in again.stderr
    assert "--rotate" in again.stderr
    assert URL.search(again.stdout) is None

    rotated: Any = runner.invoke(
        app, ["--config", str(config), "calendar-token", "data-platform", "--rotate"]
    )
    assert rotated.exit_code == 0, rotated.output
    new = next(URL.finditer(rotated.stdout))["token"]
    assert new != token
    service = Service.open(load_settings(config))
    try:
        assert service.calendar_token_matches("data-platform", new)
        assert not service.calendar_token_matches("data-platform", token)
    finally:
        service.close()
    for secret in (token, new):
        assert secret not in caplog.text


def test_the_command_without_a_public_url_and_with_feed_tokens_off(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url, web={"host": "127.0.0.1", "port": 8099})
    result: Any = CliRunner().invoke(app, ["--config", str(config), "calendar-token", "analytics"])
    assert result.exit_code == 0, result.output
    schemes = {match["scheme"]: match.group(0) for match in URL.finditer(result.stdout)}
    assert schemes["http"].startswith("http://127.0.0.1:8099/calendar/analytics.ics?token=")
    assert schemes["webcal"].startswith("webcal://127.0.0.1:8099/calendar/analytics.ics?token=")
    assert "web.calendar_tokens is off" in result.stderr
    assert "note: web.public_url is not set, so these URLs name web.host and web.port" in result.stderr


def test_the_command_refuses_an_unknown_team(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url)
    result: Any = CliRunner().invoke(app, ["--config", str(config), "calendar-token", "nobody"])
    assert result.exit_code == 2
    assert "team 'nobody' owns no tracked deployment; known teams: analytics, data-platform" in result.stderr


# --- the settings ---------------------------------------------------------------------------


def test_calendar_tokens_reads_a_bare_yaml_off(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "off.yaml"
    config.write_text(f"database_url: {sqlite_url}\nweb: {{calendar_tokens: off}}\n")
    assert load_settings(config).web.calendar_tokens == "off"
    config.write_text(f"database_url: {sqlite_url}\nweb: {{calendar_tokens: sometimes}}\n")
    with pytest.raises(ConfigError, match=r"web\.calendar_tokens"):
        load_settings(config)


def test_the_read_token_file_is_read_at_load(tmp_path: Path, sqlite_url: str) -> None:
    secret = new_token()
    holder = tmp_path / "read-token"
    holder.write_text(secret + "\n")
    settings = load_settings(write_config(tmp_path, sqlite_url, web={"read_token_file": str(holder)}))
    assert settings.web.read_token is not None
    assert settings.web.read_token.get_secret_value() == secret
    assert secret not in repr(settings)
    assert settings.model_dump()["web"]["read_token_file"] == str(holder)
    service = Service.open(settings)
    try:
        assert service.read_token_matches(secret)
        assert not service.read_token_matches(secret[:-1])
        assert service.read_cookie_matches(cookie_value(secret))
        assert not service.read_cookie_matches(secret)
    finally:
        service.close()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("relative", None, "must be the absolute path"),
        ("missing", None, "does not exist"),
        ("short", "tooShortS3CR", "holds 12 characters; a read token needs at least 16"),
        ("latin1", b"\xff\xfe" + b"S3CR3T" * 4, "not UTF-8"),
    ],
)
def test_a_bad_read_token_file_names_the_key_never_the_token(
    tmp_path: Path, sqlite_url: str, name: str, content: str | bytes | None, expected: str
) -> None:
    holder = tmp_path / "token"
    if isinstance(content, str):
        holder.write_text(content)
    elif isinstance(content, bytes):
        holder.write_bytes(content)
    value = "token" if name == "relative" else str(holder)
    with pytest.raises(ConfigError) as info:
        load_settings(write_config(tmp_path, sqlite_url, web={"read_token_file": value}))
    assert "web.read_token_file" in str(info.value)
    assert expected in str(info.value)
    assert "S3CR" not in str(info.value)
