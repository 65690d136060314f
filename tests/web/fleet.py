"""The every-finding fleet for the web tests, with secrets in every place a config can hold one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from supportwatch.config import Settings
from supportwatch.notify.log import DeliveryKey, DeliveryLog
from supportwatch.service import Service
from supportwatch.values import SourceState

FIXTURE = Path(__file__).parent.parent / "fixtures" / "every-finding.yaml"
NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/webhookS3CR3T"
SECRETS = {
    "webhook": WEBHOOK,
    "webhook_path": "/services/T0000/B0000/webhookS3CR3T",
    "bot_token": "xoxb-botS3CR3T",
    "smtp_password": "smtpS3CR3T",
    "source_token": "sourceTokenS3CR3T",
    "url_password": "urlPassS3CR3T",
    "query_token": "queryS3CR3T",
    "db_password": "dbPassS3CR3T",
}


def write_config(tmp_path: Path, database_url: str) -> Path:
    """every-finding.yaml plus receivers, SMTP and an HTTP source, each holding a secret."""
    raw: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    raw["database_url"] = database_url
    raw["sources"].append(
        {
            "name": "chart-index",
            "kind": "helm",
            "url": f"https://reader:{SECRETS['url_password']}@charts.example.com/index.yaml?token={SECRETS['query_token']}",
            "token": SECRETS["source_token"],
        }
    )
    raw["receivers"] = [
        {"name": "platform", "slack": {"webhook_url": WEBHOOK}, "email": {"to": ["platform@example.com"]}},
        {"name": "analytics", "slack": {"token": SECRETS["bot_token"], "channel": "#analytics"}},
    ]
    raw["routes"] = [
        {"match": {"team": "platform"}, "receiver": "platform"},
        {"match": {"team": "analytics"}, "receiver": "analytics"},
    ]
    raw["smtp"] = {
        "host": "smtp.example.com",
        "username": "sw",
        "password": SECRETS["smtp_password"],
        "sender": "sw@example.com",
    }
    path = tmp_path / "supportwatch.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def with_password(url: str) -> str:
    """A PostgreSQL URL with a password (the trust-auth test server ignores it); SQLite as is."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.set(password=SECRETS["db_password"]).render_as_string(hide_password=False)


def seed(service: Service) -> None:
    """Static releases, a failing source whose stored error quotes secrets, and a dead letter."""
    service.apply_static(NOW)
    service.store.save_source_state(
        SourceState(
            name="chart-index",
            configured_url="https://charts.example.com/index.yaml",
            url=f"https://reader:{SECRETS['url_password']}@charts.example.com/index.yaml?token={SECRETS['query_token']}",
            last_attempt_at=NOW,
            last_success_at=datetime(2026, 7, 1, tzinfo=UTC),
            consecutive_failures=4,
            last_error=f"HTTP 401 with token {SECRETS['source_token']} <script>alert(1)</script>",
        )
    )
    log = DeliveryLog(service.engine)
    key = DeliveryKey.parse("eol:1")
    log.claim("platform/slack", key, now=NOW, lease_seconds=60, summary="<b>eol</b> notice", payload={})
    log.mark_failed("platform/slack", [key], error=f"invalid_auth posting to {WEBHOOK}", next_attempt_at=None)


def open_service(settings: Settings) -> Service:
    """A migrated, seeded service (the caller closes it)."""
    service = Service.open(settings, migrate=True)
    seed(service)
    return service
