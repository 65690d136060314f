"""CLI hardening: every bad input is exit 2 with a clear message, never a traceback or a secret."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from supportwatch.cli import app
from supportwatch.config import hide_database_password

MARK = "S3CR3T"
IMAGE = "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.1-9-python-3.12-astro-agent-1.3.0"
FLEET = (
    "sources:\n  - {name: p, kind: static, releases: [{component: agent, version: 1.3.0, released_on: 2026-01-28}]}\n"
    f"deployments:\n  - {{name: a, team: t, image: '{IMAGE}'}}\n"
)


def config_for(tmp_path: Path, database_url: str, extra: str = FLEET) -> Path:
    path = tmp_path / "supportwatch.yaml"
    path.write_text(f"database_url: '{database_url}'\n{extra}", encoding="utf-8")
    return path


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(config), *args])


def fails(config: Path, *args: str) -> str:
    """Run the command; assert exit 2 without a traceback; the stderr, on one line."""
    result = invoke(config, *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    assert MARK not in result.output
    return str(result.stderr).replace("\n", " ")


# --- 2. "cannot open the database" never shows the password ------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql+psycopg://sw:a%2Fb{MARK}@127.0.0.1:1/sw", "postgresql+psycopg://sw:***@127.0.0.1:1/sw"),
        (f"postgresql+psycopg://sw:a/b{MARK}@127.0.0.1:1/sw", "postgresql+psycopg://sw:***@127.0.0.1:1/sw"),
        (f"postgresql+psycopg://sw:a%40b{MARK}@127.0.0.1:1/sw", "postgresql+psycopg://sw:***@127.0.0.1:1/sw"),
        (f"postgresql+psycopg://sw:a:b{MARK}@127.0.0.1:1/sw", "postgresql+psycopg://sw:***@127.0.0.1:1/sw"),
        (
            f"postgresql+psycopg://sw@127.0.0.1:1/sw?password={MARK}",
            "postgresql+psycopg://sw@127.0.0.1:1/sw?password=***",
        ),
    ],
)
def test_cannot_open_the_database_hides_the_password(tmp_path: Path, url: str, shown: str) -> None:
    stderr = fails(config_for(tmp_path, url, ""), "check")
    assert f"supportwatch: error: cannot open the database {shown}: " in stderr
    assert "check database_url and that the server is reachable" in stderr


@pytest.mark.parametrize(
    ("text", "url", "hidden"),
    [
        (f"password authentication failed: a/b{MARK}", f"postgresql+psycopg://sw:a%2Fb{MARK}@db/sw", "***"),
        (f"bad dsn password=a%40b{MARK}", f"postgresql+psycopg://sw:a%40b{MARK}@db/sw", "password=***"),
        (f"bad option {MARK}x", f"postgresql+psycopg://sw@db/sw?password={MARK}x", "bad option ***"),
        (f"cannot parse postgresql://sw:{MARK}@db:abc", f"postgresql://sw:{MARK}@db:abc", "postgresql"),
    ],
)
def test_driver_messages_lose_the_password(text: str, url: str, hidden: str) -> None:
    assert MARK not in hide_database_password(text, url)
    assert hidden in hide_database_password(text, url)


# --- 5. a SQLite folder that cannot be created -----------------------------------------------


@pytest.mark.parametrize(("folder", "reason"), [("afile/sub", "Not a directory"), ("afile", "File exists")])
@pytest.mark.parametrize("command", [("check",), ("acks",), ("db", "upgrade"), ("run", "--port", "0")])
def test_sqlite_folder_that_cannot_be_created_names_database_url(
    tmp_path: Path, folder: str, reason: str, command: tuple[str, ...]
) -> None:
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    config = config_for(tmp_path, f"sqlite:///{tmp_path / folder / 'sw.db'}")
    stderr = fails(config, *command)
    assert stderr == (
        f"supportwatch: error: database_url: cannot create the folder {str(tmp_path / folder)!r} for the "
        f"SQLite database ({reason}); point database_url at a writable folder, e.g. sqlite:///var/supportwatch.db "
    )


# --- 5. --at and --until outside the dates Python holds ---------------------------------------

AT_RANGE = "give a date between 1970-01-01 and 9000-12-31"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "9999-12-31T23:59:59-05:00",
            "is out of range: in UTC it falls outside the years 1 to 9999; " + AT_RANGE,
        ),
        (
            "0001-01-01T00:00:00+05:00",
            "is out of range: in UTC it falls outside the years 1 to 9999; " + AT_RANGE,
        ),
        ("9999-12-31T23:59:59", None),  # naive: New York time, which is in year 10000 in UTC
        ("0001-01-01", "is out of range; " + AT_RANGE),
        ("9999-12-31", "is out of range; " + AT_RANGE),
        ("1969-12-31T23:59:59+00:00", "is out of range; " + AT_RANGE),
        ("9001-01-01", "is out of range; " + AT_RANGE),
    ],
)
@pytest.mark.parametrize(
    "command", [("check",), ("releases",), ("notify", "--dry-run"), ("digest", "--dry-run")]
)
def test_at_out_of_range_is_a_usage_error(
    tmp_path: Path, value: str, message: str | None, command: tuple[str, ...]
) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'sw.db'}", FLEET + "timezone: America/New_York\n")
    stderr = fails(config, *command, "--at", value)
    expected = message or "is out of range: in UTC it falls outside the years 1 to 9999; " + AT_RANGE
    assert stderr == f"supportwatch: error: --at {value!r} {expected} "


@pytest.mark.parametrize("value", ["1970-01-01", "9000-12-31"])
def test_at_at_the_ends_of_the_range_works(tmp_path: Path, value: str) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'sw.db'}")
    for command in (("check", "--fail-on", "never"), ("notify", "--dry-run"), ("digest", "--dry-run")):
        result = invoke(config, *command, "--at", value)
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_until_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'sw.db'}")
    stderr = fails(config, "ack", "some-key", "--until", value)
    assert stderr == (
        f"supportwatch: error: --until {value!r} is out of range: in UTC it falls outside the years 1 to 9999; "
        f"{AT_RANGE} "
    )
    assert not (tmp_path / "sw.db").exists()


# --- 8. ack --note and DEDUP_KEY fit their columns ----------------------------------------------


@pytest.fixture
def ack_config(tmp_path: Path, database_url: str) -> Path:
    config = config_for(tmp_path, database_url)
    assert invoke(config, "db", "upgrade").exit_code == 0
    return config


@pytest.mark.parametrize("length", [513, 600, 10000])
def test_overlong_note_is_refused_on_both_databases(ack_config: Path, length: int) -> None:
    stderr = fails(ack_config, "ack", "some-key", "--note", "n" * length)
    assert (
        stderr == f"supportwatch: error: --note is {length} characters; the limit is 512: shorten the note "
    )
    assert invoke(ack_config, "acks").stdout == "no acknowledged findings\n"


@pytest.mark.parametrize("length", [513, 10000])
def test_overlong_dedup_key_is_refused_on_both_databases(ack_config: Path, length: int) -> None:
    stderr = fails(ack_config, "ack", "k" * length)
    assert stderr == (
        f"supportwatch: error: DEDUP_KEY is {length} characters; the limit is 512: copy the finding's "
        "dedup_key from `supportwatch check --format json` "
    )
    assert invoke(ack_config, "acks").stdout == "no acknowledged findings\n"


def test_note_and_key_of_512_characters_are_saved_on_both_databases(ack_config: Path) -> None:
    key, note = "k" * 512, "é" * 512  # characters, not bytes
    result = invoke(ack_config, "ack", key, "--note", note)
    assert result.exit_code == 0, result.output
    assert invoke(ack_config, "acks").stdout == f"{key}  until facts change  (active)  {note}\n"


def test_overlong_note_is_refused_before_the_database_is_touched(tmp_path: Path) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'db' / 'sw.db'}")
    fails(config, "ack", "some-key", "--note", "n" * 513)
    assert not (tmp_path / "db").exists()


# --- 6. --config must name a regular file -----------------------------------------------------


def test_config_that_is_not_a_regular_file_is_refused_quickly(tmp_path: Path, fifo: Path) -> None:
    for path in (Path("/dev/zero"), fifo, tmp_path):
        for args, env in (
            (["--config", str(path), "check"], {}),
            (["check"], {"SUPPORTWATCH_CONFIG": str(path)}),
        ):
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "supportwatch.cli", *args],
                capture_output=True,
                text=True,
                env={**os.environ, **env},
                timeout=60,
                check=False,
            )
            assert time.perf_counter() - started < 30
            assert result.returncode == 2, result.stderr
            assert result.stderr == (
                f"supportwatch: error: config {path}: config file {str(path)!r} is not a regular file "
                "(a device, FIFO or directory); name a plain file\n"
            )


def test_an_ack_note_keeps_no_terminal_escapes(ack_config: Path) -> None:
    result = invoke(ack_config, "ack", "some-key", "--note", "\x1b]0;owned\x07why\x1b[31m red")
    assert result.exit_code == 0, result.output
    listed = invoke(ack_config, "acks").stdout
    assert "\x1b" not in listed and "\x07" not in listed
    assert listed.rstrip().endswith("why red")
