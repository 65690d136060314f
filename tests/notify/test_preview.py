"""``write_preview``: exactly what would be sent, written to files; nothing is sent or stored."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from supportwatch.config import Settings
from supportwatch.errors import ConfigError
from supportwatch.notify.preview import write_preview
from supportwatch.notify.slack_blocks import validate
from supportwatch.service import Service
from supportwatch.values import Finding, FindingKind, Severity

from .fleet import AT, varied_config
from .loopback import BOT_TOKEN, WEBHOOK_PATH

STALE = Finding(
    kind=FindingKind.SOURCE_STALE,
    severity=Severity.WARNING,
    deployment="",
    team="",
    subject="agent-notes",
    dedup_key="source_stale:agent-notes",
    summary="source 'agent-notes' failed 3 polls in a row",
    remedy="Check its url.",
)


def settings(tmp_path: Path) -> Settings:
    raw = varied_config(f"sqlite:///{tmp_path / 'sw.db'}", deployments=30)
    for index, item in enumerate(raw["deployments"]):
        item["team"] = "data-platform" if index < 20 else "analytics"
    return Settings.model_validate(
        {
            **raw,
            "http": {"allow_private_networks": True},
            "receivers": [
                {
                    "name": "data-platform",
                    "slack": {"token": BOT_TOKEN, "channel": "#agents", "api_url": "http://127.0.0.1:9/api/"},
                    "email": {"to": ["team@example.com"]},
                },
                {"name": "analytics", "slack": {"webhook_url": f"http://127.0.0.1:9{WEBHOOK_PATH}"}},
            ],
            "routes": [
                {"match": {"team": "data-platform"}, "receiver": "data-platform"},
                {"match": {"team": "analytics"}, "receiver": "analytics"},
            ],
            "data_health_receiver": "data-platform",
            "smtp": {"host": "smtp.example.com", "sender": "sw@example.com", "password": "pw-SECRET"},
            "web": {"public_url": "https://sw.example.com"},
        }
    )


def reports(config: Settings) -> list:  # type: ignore[type-arg]
    service = Service.open(config)
    service.apply_static(AT)
    found = service.evaluate(AT)
    service.close()
    return found


def test_notices_are_written_as_each_channel_would_get_them(tmp_path: Path) -> None:
    config = settings(tmp_path)
    out = tmp_path / "out"
    written = write_preview(config, reports(config), [STALE], now=AT, output=out, receiver=None, digest=False)
    names = sorted(str(path.relative_to(out)) for path in written)
    slack = [name for name in names if name.startswith("data-platform/slack-")]
    assert names == [
        "analytics/slack-01.json",
        "data-platform/email-01.eml",  # a run's notices: one email
        "data-platform/email-01.html",
        *slack,  # 20 deployments and data health: as few Slack messages as the limits allow
    ]
    assert 1 <= len(slack) <= 2
    bot = json.loads((out / "data-platform/slack-01.json").read_text())
    assert bot["channel"] == "#agents"
    validate(bot)
    assert "Data health: Source stale" in json.dumps(bot)  # data health goes to its receiver
    assert "thread_ts" not in bot
    email = message_from_bytes((out / "data-platform/email-01.eml").read_bytes(), policy=policy.default)
    assert str(email["To"]) == "team@example.com"
    assert str(email["Auto-Submitted"]) == "auto-generated"
    html = email.get_body(("html",))
    assert html is not None
    assert (
        html.get_content().replace("\r\n", "\n").rstrip()
        == (out / "data-platform/email-01.html").read_text().rstrip()
    )
    everything = "".join(path.read_text(errors="replace") for path in written)
    for secret in (BOT_TOKEN, WEBHOOK_PATH, "pw-SECRET"):
        assert secret not in everything
    assert not (tmp_path / "sw.db-journal").exists()


def test_one_receivers_digest_on_each_of_its_channels(tmp_path: Path) -> None:
    config = settings(tmp_path)
    out = tmp_path / "out"
    written = write_preview(
        config, reports(config), [], now=AT, output=out, receiver="data-platform", digest=True
    )
    assert sorted(str(path.relative_to(out)) for path in written) == [
        "data-platform/digest-email-01.eml",
        "data-platform/digest-email-01.html",
        "data-platform/digest-slack-01.json",
    ]
    slack = json.loads((out / "data-platform/digest-slack-01.json").read_text())
    validate(slack)
    assert slack["blocks"][0]["text"]["text"].startswith("supportwatch weekly digest 2026-W31")


def test_the_console_is_written_as_text_and_an_unknown_receiver_is_refused(tmp_path: Path) -> None:
    config = settings(tmp_path).model_copy(
        update={"receivers": [], "routes": [], "data_health_receiver": None}
    )
    out = tmp_path / "out"
    written = write_preview(config, reports(config), [], now=AT, output=out, receiver="console", digest=False)
    [text] = written
    assert text.name == "console-01.txt"
    assert text.read_text().startswith("[supportwatch] ")
    with pytest.raises(ConfigError, match="'nobody' is not a receiver"):
        write_preview(config, [], [], now=AT, output=out, receiver="nobody", digest=False)
