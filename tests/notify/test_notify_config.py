from __future__ import annotations

from pathlib import Path

import pytest

from supportwatch.config import Settings, load_settings
from supportwatch.errors import ConfigError


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ("{give_up_hours: -1}", "notify.give_up_hours"),
        ("{digest_weekday: someday}", "notify.digest_weekday"),
        ("{digest_hour: 24}", "notify.digest_hour"),
        ("{retry_backoff_seconds: 10, retry_backoff_max_seconds: 5}", "notify"),
        ("{repeat_interval_days: 0}", "notify.repeat_interval_days"),
        ("{unknown_key: 1}", "notify.unknown_key"),
    ],
)
def test_bad_notify_values_name_the_key(tmp_path: Path, section: str, path: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"notify: {section}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.path == path


def test_defaults(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    notify = load_settings(config).notify
    assert notify.repeat_interval_days == 7
    assert notify.digest_horizon_days == 90
    assert notify.slack_rate_per_second == 1.0


# --- issue 10: links, digest channels, the sender's name, data health ------------------------


def load(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    return load_settings(config)


def error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return caught.value


SMTP = "smtp: {host: smtp.example.com, sender: sw@example.com}\n"


def test_the_new_keys_default_to_what_was_done_before(tmp_path: Path) -> None:
    settings = load(tmp_path, SMTP)
    assert settings.web.public_url is None
    assert settings.data_health_receiver is None
    assert settings.smtp is not None and settings.smtp.sender_name == "supportwatch"
    assert settings.notify.parallel_channels == 16


def test_public_url_must_be_an_http_url(tmp_path: Path) -> None:
    assert str(load(tmp_path, "web: {public_url: 'https://sw.example.com/base'}\n").web.public_url) == (
        "https://sw.example.com/base"
    )
    assert error(tmp_path, "web: {public_url: 'ftp://sw.example.com'}\n").path == "web.public_url"


def test_a_digest_channel_the_receiver_lacks_is_refused(tmp_path: Path) -> None:
    text = SMTP + "receivers: [{name: r, email: {to: [a@example.com]}, digest: {channels: [slack]}}]\n"
    err = error(tmp_path, text)
    assert err.path == "receivers[0].digest.channels[0]"
    assert "'slack' is not configured for receiver 'r'; its channels: email" in str(err)
    twice = (
        SMTP + "receivers: [{name: r, email: {to: [a@example.com]}, digest: {channels: [email, email]}}]\n"
    )
    assert error(tmp_path, twice).path == "receivers[0].digest.channels"
    assert error(tmp_path, SMTP + "receivers: [{name: r, digest: {channels: [fax]}}]\n").path.startswith(
        "receivers[0].digest.channels"
    )


def test_the_sender_name_is_one_printable_line(tmp_path: Path) -> None:
    named = load(tmp_path, "smtp: {host: h, sender: s@example.com, sender_name: 'Platform Ops'}\n")
    assert named.smtp is not None and named.smtp.sender_name == "Platform Ops"
    err = error(
        tmp_path, 'smtp: {host: h, sender: s@example.com, sender_name: "a\\r\\nBcc: x@example.com"}\n'
    )
    assert err.path == "smtp.sender_name"
