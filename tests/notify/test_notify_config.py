from __future__ import annotations

from pathlib import Path

import pytest

from supportwatch.config import load_settings
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
