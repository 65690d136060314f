"""Dead letters go back in the queue when an operator says the cause is fixed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from supportwatch.cli import app

from .loopback import SlackServer
from .test_slack import AT, open_service


def test_a_redriven_dead_letter_is_sent_by_the_next_notify(tmp_path: Path, slack_server: SlackServer) -> None:
    service, _ = open_service(tmp_path, slack_server, "bot")
    slack_server.script = ["channel_not_found"]
    assert service.notify(AT).dead
    dead = service.dead_letters()
    assert dead
    # the channel was created again: only what was dead goes back, and only once
    assert service.redrive(AT + timedelta(hours=1), target="nobody/slack") == 0
    assert service.redrive(AT + timedelta(hours=1)) == len(dead)
    report = service.notify(AT + timedelta(hours=1))
    assert report.ok
    assert report.sent_keys == len(dead)
    assert service.dead_letters() == []
    assert service.notify(AT + timedelta(hours=2)).sent_keys == 0
    assert service.redrive(AT + timedelta(hours=2)) == 0
    service.close()
    assert len(slack_server.requests) == 2


def test_redrive_command(tmp_path: Path, slack_server: SlackServer) -> None:
    service, _ = open_service(tmp_path, slack_server, "bot")
    slack_server.script = ["invalid_auth"]
    service.notify(AT)
    [first, *_] = service.dead_letters()
    service.close()
    config = tmp_path / "supportwatch.yaml"
    config.write_text(f"database_url: 'sqlite:///{tmp_path / 'sw.db'}'\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "redrive", "--key", first.key])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("re-queued 1 dead letter")
