"""``SUPPORTWATCH_<KEY>`` overrides the config file's top-level scalars (twelve-factor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportwatch.config import load_settings
from supportwatch.config.environment import OVERRIDABLE, variable
from supportwatch.errors import ConfigError

PASSWORD = "s3cret-Password-42"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "supportwatch.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path / 'file.db'}\ntimezone: UTC\n")
    return path


def test_the_environment_overrides_the_files_database_url_and_time_zone(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://sw:{PASSWORD}@127.0.0.1:5432/supportwatch"
    monkeypatch.setenv("SUPPORTWATCH_DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTWATCH_TIMEZONE", "Europe/Berlin")
    settings = load_settings(config)
    assert settings.database_url == url
    assert settings.timezone == "Europe/Berlin"


def test_without_the_variables_the_file_decides(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in OVERRIDABLE:
        monkeypatch.delenv(variable(key), raising=False)
    settings = load_settings(config)
    assert settings.database_url.endswith("file.db")
    assert settings.timezone == "UTC"


def test_the_override_replaces_a_file_twin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "db-url").write_text("sqlite:///from-file.db\n")
    config = tmp_path / "supportwatch.yaml"
    config.write_text("database_url_file: db-url\n")
    monkeypatch.setenv("SUPPORTWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert load_settings(config).database_url.endswith("env.db")


def test_a_bad_value_names_the_variable_and_never_the_secret(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTWATCH_DATABASE_URL", f"mysql://sw:{PASSWORD}@127.0.0.1/supportwatch")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    message = str(raised.value)
    assert "database_url (from the environment variable SUPPORTWATCH_DATABASE_URL)" in message
    assert "not supported" in message
    assert PASSWORD not in message


def test_an_empty_variable_is_refused_with_the_fix(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTWATCH_TIMEZONE", " ")
    with pytest.raises(ConfigError, match="SUPPORTWATCH_TIMEZONE: is set but empty; unset it"):
        load_settings(config)


def test_a_bad_time_zone_from_the_environment_says_so(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTWATCH_TIMEZONE", "Mars/Olympus")
    with pytest.raises(
        ConfigError, match=r"timezone \(from the environment variable SUPPORTWATCH_TIMEZONE\)"
    ):
        load_settings(config)


def test_the_value_is_taken_literally(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no ${ENV} expansion of a value that came from the environment
    monkeypatch.setenv("SUPPORTWATCH_DEFAULT_RECEIVER", "${NOT_EXPANDED}")
    monkeypatch.delenv("NOT_EXPANDED", raising=False)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    message = str(raised.value)
    # expanded, it would have failed on the unset NOT_EXPANDED instead
    assert "default_receiver (from the environment variable SUPPORTWATCH_DEFAULT_RECEIVER)" in message
    assert "is not a receiver; known: console" in message
