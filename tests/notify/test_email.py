"""Email against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import logging
import re
from datetime import date
from email import message_from_bytes, policy
from typing import Any

import pytest

from ports import free_port
from supportwatch.config import SmtpSettings
from supportwatch.notify.email import EmailNotifier
from supportwatch.notify.message import Message, Notice

from .loopback import SMTP_PASSWORD, WALL, SmtpServer, clock


def smtp(server: SmtpServer | None, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port if server else free_port(),
        "security": "none",
        "username": "supportwatch",
        "password": SMTP_PASSWORD,
        "sender": "supportwatch@example.com",
        "timeout_seconds": 5,
    }
    values.update(changes)
    return SmtpSettings.model_validate(values)


def message(deployment: str = "prod-east") -> Message:
    notice = Notice(
        status="firing",
        kind="end_of_maintenance",
        severity="critical",
        deployment=deployment,
        team="data-platform",
        summary=f"{deployment} runs agent 1.3.0; agent 1.3 left maintenance on 2026-07-28",
        remedy="Use <b>3.2-2-python-3.12-astro-agent-1.6.0</b>",
        dedup_key=f"end_of_maintenance:{deployment}:agent-1.3",
        end_of_maintenance=date(2026, 7, 28),
        days_left=-2,
    )
    return Message("data-platform", notices=(notice,))


def test_sends_multipart_text_and_html(smtp_server: SmtpServer) -> None:
    outcome = EmailNotifier(smtp(smtp_server), ["team@example.com"], now=clock).send(message())
    assert outcome.ok
    [envelope] = smtp_server.recorder.envelopes
    assert envelope.rcpt_tos == ["team@example.com"]
    assert smtp_server.logins == ["supportwatch"]
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert parsed["Subject"] == "[supportwatch] CRITICAL: End of maintenance on prod-east"
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "2026-07-28 (2 days ago)" in text
    assert "&lt;b&gt;3.2-2-python-3.12-astro-agent-1.6.0&lt;/b&gt;" in html  # autoescaped
    assert parsed["Date"].datetime == WALL  # the injected wall clock, never the notifier's own


def test_header_injection_adds_no_recipient(smtp_server: SmtpServer) -> None:
    evil = "prod\r\nBcc: evil@example.com\r\nX-Injected: yes"
    outcome = EmailNotifier(smtp(smtp_server), ["team@example.com"], now=clock).send(message(evil))
    assert outcome.ok
    [envelope] = smtp_server.recorder.envelopes
    assert envelope.rcpt_tos == ["team@example.com"]
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert "evil@example.com" in parsed["Subject"]  # folded into the subject text, harmlessly


@pytest.mark.parametrize(
    ("where", "reply", "retryable"),
    [
        ("rcpt", "451 4.3.0 try again later", True),
        ("data", "452 4.3.1 insufficient storage", True),
        ("rcpt", "550 5.1.1 no such user", False),
        ("data", "554 5.7.1 rejected", False),
    ],
)
def test_4xx_retries_5xx_is_permanent(
    smtp_server: SmtpServer, where: str, reply: str, retryable: bool
) -> None:
    setattr(smtp_server.recorder, f"{where}_reply", reply)
    outcome = EmailNotifier(smtp(smtp_server), ["team@example.com"], now=clock).send(message())
    assert not outcome.ok
    assert outcome.retryable is retryable


def test_network_errors_retry(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = EmailNotifier(smtp(None), ["team@example.com"], now=clock).send(message())
    assert not outcome.ok
    assert outcome.retryable
    assert SMTP_PASSWORD not in outcome.error + caplog.text


def test_bad_password_is_permanent_and_never_shown(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = EmailNotifier(
        smtp(smtp_server, password="wrong-" + SMTP_PASSWORD), ["t@example.com"], now=clock
    ).send(message())
    assert not outcome.ok
    assert not outcome.retryable
    assert "535" in outcome.error
    assert SMTP_PASSWORD not in outcome.error + caplog.text


def test_starttls_is_required_when_configured(smtp_server: SmtpServer) -> None:
    # the loopback server offers no STARTTLS: never fall back to plain text
    outcome = EmailNotifier(smtp(smtp_server, security="starttls"), ["t@example.com"], now=clock).send(
        message()
    )
    assert not outcome.ok
    assert not outcome.retryable
    assert smtp_server.recorder.envelopes == []


def test_security_defaults_to_starttls() -> None:
    assert SmtpSettings(host="smtp.example.com", sender="a@example.com").security == "starttls"


def test_a_partly_refused_recipient_list_is_sent_and_names_the_refused_address(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.recorder.refused = {"gone@example.com"}
    outcome = EmailNotifier(smtp(smtp_server), ["team@example.com", "gone@example.com"], now=clock).send(
        message()
    )
    assert outcome.ok  # the others have it: a retry would send it to them twice
    assert [e.rcpt_tos for e in smtp_server.recorder.envelopes] == [["team@example.com"]]
    assert "gone@example.com" in outcome.error
    assert "550" in outcome.error


def test_from_a_named_sender_marked_auto_generated(smtp_server: SmtpServer) -> None:
    assert EmailNotifier(smtp(smtp_server), ["team@example.com"], now=clock).send(message()).ok
    [envelope] = smtp_server.recorder.envelopes
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert str(parsed["From"]) == "supportwatch <supportwatch@example.com>"
    assert envelope.mail_from == "supportwatch@example.com"
    assert str(parsed["Auto-Submitted"]) == "auto-generated"  # RFC 3834: no auto-replies
    assert parsed["In-Reply-To"] is None


def test_a_sender_name_with_specials_is_quoted(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(smtp(smtp_server, sender_name="Ops, Platform"), ["team@example.com"], now=clock)
    assert notifier.send(message()).ok
    [envelope] = smtp_server.recorder.envelopes
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert parsed["From"].addresses[0].display_name == "Ops, Platform"
    assert parsed["From"].addresses[0].addr_spec == "supportwatch@example.com"


def test_the_text_part_says_what_the_html_part_says(smtp_server: SmtpServer) -> None:
    notice = message().notices[0]
    full = Notice(
        **{
            **{name: getattr(notice, name) for name in notice.__slots__},
            "target": "images.example/astro-remote-execution-agent:3.2-2-python-3.12-astro-agent-1.6.0",
            "plan": ("Upgrade the chart: `helm upgrade agent ...`", "Deploy the image"),
            "url": "https://sw.example.com/deployments/prod-east",
            "state": "unmaintained (critical)",
        }
    )
    assert EmailNotifier(smtp(smtp_server), ["t@example.com"], now=clock).send(Message("dp", (full,))).ok
    [envelope] = smtp_server.recorder.envelopes
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "https://sw.example.com/deployments/prod-east" in part
        assert "3.2-2-python-3.12-astro-agent-1.6.0" in part
        assert "Deploy the image" in part and "helm upgrade agent" in part
        assert "unmaintained (critical)" in part
        assert "2026-07-28 (2 days ago)" in part
    assert " width=" not in html and "<table" not in html  # stacked blocks, nothing fixed-width
    assert not re.search(r"(?<!max-)width:\s*\d", html)
