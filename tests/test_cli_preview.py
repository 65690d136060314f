"""``supportwatch preview``: what a first run would send, written to files; nothing is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from supportwatch.cli import app

CONFIG = """\
database_url: sqlite:///{db}
sources:
  - name: pinned
    kind: static
    releases:
      - {{component: agent, version: 1.6.0, released_on: 2026-04-16}}
deployments:
  - name: prod-east
    team: data-platform
    image: images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.1-9
receivers:
  - name: data-platform
    email: {{to: [data-platform@example.com]}}
routes:
  - {{match: {{team: data-platform}}, receiver: data-platform}}
smtp: {{host: 127.0.0.1, port: 9, security: none, sender: sw@example.com}}
"""


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(config), "preview", *args])


def test_preview_writes_the_notices_and_the_digest_and_sends_nothing(tmp_path: Path) -> None:
    config = tmp_path / "supportwatch.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "sw.db"))
    out = tmp_path / "preview"
    result = invoke(config, "--at", "2026-08-01", "--output", str(out))
    assert result.exit_code == 0, result.output
    written = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert "data-platform/email-01.eml" in written
    assert "data-platform/email-01.html" in written
    assert "floating" in (out / "data-platform" / "email-01.eml").read_text().lower()
    assert f"wrote {len(written)} files to {out}" in result.stdout

    digest = invoke(
        config, "--at", "2026-08-03", "--digest", "--receiver", "data-platform", "--output", str(out)
    )
    assert digest.exit_code == 0, digest.output
    assert (out / "data-platform" / "digest-email-01.eml").is_file()


def test_preview_refuses_an_unknown_receiver_and_an_unwritable_folder(tmp_path: Path) -> None:
    config = tmp_path / "supportwatch.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "sw.db"))
    unknown = invoke(config, "--receiver", "nobody", "--output", str(tmp_path / "out"))
    assert unknown.exit_code == 2
    assert "'nobody' is not a receiver; known: " in unknown.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    unwritable = invoke(config, "--at", "2026-08-01", "--output", str(blocked / "sub"))
    assert unwritable.exit_code == 2
    assert "cannot write the preview" in unwritable.stderr
    assert "Traceback" not in unwritable.output
