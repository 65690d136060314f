"""``notify``, ``digest``, ``ack`` and ``acks`` on the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import time_machine
import yaml
from typer.testing import CliRunner

from supportwatch.cli import app

from .loopback import IMAGE, RELEASES, WEBHOOK_PATH, SlackServer

runner = CliRunner()


def write_config(tmp_path: Path, server: SlackServer) -> str:
    (tmp_path / "webhook").write_text(server.webhook_url)
    config = {
        "database_url": f"sqlite:///{tmp_path / 'sw.db'}",
        "http": {"allow_private_networks": True},  # the loopback Slack server is plain http
        "sources": [{"name": "pinned", "kind": "static", "releases": RELEASES}],
        "deployments": [{"name": "prod-east", "team": "data-platform", "image": IMAGE.format("1.3.0")}],
        "receivers": [{"name": "data-platform", "slack": {"webhook_url_file": "webhook"}}],
        "routes": [{"match": {"team": "data-platform"}, "receiver": "data-platform"}],
    }
    path = tmp_path / "supportwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run(config: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", config, *args])
    assert WEBHOOK_PATH not in result.output
    return result.exit_code, result.output


def test_dry_run_prints_and_sends_nothing_then_notify_sends_once(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    config = write_config(tmp_path, slack_server)
    code, output = run(config, "notify", "--at", "2026-06-28", "--dry-run")
    assert code == 0
    assert "would send to data-platform/slack" in output
    assert "Maintenance ending on prod-east" in output
    assert slack_server.requests == []
    assert run(config, "notify", "--at", "2026-06-28") == (0, "sent 1 message covering 2 notices\n")
    assert run(config, "notify", "--at", "2026-06-28") == (0, "sent 0 messages covering 0 notices\n")
    assert len(slack_server.requests) == 1


def test_a_failed_send_exits_1_without_leaking_the_webhook(tmp_path: Path, slack_server: SlackServer) -> None:
    config = write_config(tmp_path, slack_server)
    slack_server.script = ["channel_not_found"]
    code, output = run(config, "notify", "--at", "2026-06-28")
    assert code == 1
    assert "dead-lettered" in output
    assert "channel_not_found" in output


def test_digest_three_times_sends_once(tmp_path: Path, slack_server: SlackServer) -> None:
    config = write_config(tmp_path, slack_server)
    outputs = [run(config, "digest", "--at", day)[1] for day in ("2026-06-29", "2026-06-30", "2026-07-03")]
    assert outputs[0].startswith("sent 1 message ")
    assert outputs[1].startswith("sent 0 messages")
    assert len(slack_server.requests) == 1
    code, output = run(config, "digest", "--receiver", "nobody")
    assert code == 2
    assert "'nobody' is not a receiver" in output


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_ack_and_acks(tmp_path: Path, slack_server: SlackServer) -> None:
    config = write_config(tmp_path, slack_server)
    key = "maintenance_ending:prod-east:agent-1.3:rung-30"
    assert run(config, "ack", key, "--until", "2026-07-10")[0] == 0
    code, output = run(config, "acks")
    assert code == 0
    assert key in output
    assert "2026-07-10" in output
    run(config, "notify", "--at", "2026-06-28")
    assert "Maintenance ending" not in slack_server.texts()[0]
    assert run(config, "ack", key, "--until", "someday")[0] == 2


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_ack_until_a_moment_already_past_is_refused(tmp_path: Path, slack_server: SlackServer) -> None:
    config = write_config(tmp_path, slack_server)
    key = "maintenance_ending:prod-east:agent-1.3:rung-30"
    code, output = run(config, "ack", key, "--until", "2025-06-10")
    assert code == 2
    assert "'2025-06-10' is already past" in output
    assert "Traceback" not in output
    assert run(config, "acks") == (0, "no acknowledged findings\n")
