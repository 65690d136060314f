"""Email over SMTP with the standard library: STARTTLS or TLS with certificate verification.

``security: none`` is used only when the config says so. Headers are set on an
``email.message.EmailMessage`` (default policy), which refuses CR/LF in a header value; the
subject is folded to one line first, so untrusted text can never add a header or recipient.
SMTP 4xx replies and network errors are retryable; 5xx replies and TLS failures are not.

Delivery is at least once, so a crash between the server's "250 accepted" and the record can
send an email twice. The Message-ID is derived from the delivery key (target and the keys the
email settles, hashed), so a re-send carries the same Message-ID and mail clients and archives
fold the two into one.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from supportwatch.config import SmtpSettings
from supportwatch.notify.base import Outcome, redact
from supportwatch.notify.classify import smtp_code_retryable
from supportwatch.notify.digest import digest_lines
from supportwatch.notify.message import Message, one_line, plain_text
from supportwatch.wording import count, until

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["until"] = until


def message_id(delivery_key: str, sender: str) -> str:
    """A Message-ID that is the same for every send of one delivery: ``<hash.supportwatch@domain>``.

    The sender's domain keeps it globally unique; the hash (no key text: keys hold characters a
    Message-ID may not) tells deliveries apart.
    """
    digest = hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "supportwatch.invalid"
    return f"<{digest}.supportwatch@{domain}>"


def render_email(
    message: Message,
    *,
    sender: str,
    to: list[str],
    now: datetime,
    delivery_key: str | None = None,
) -> EmailMessage:
    """The multipart (text + HTML) email for ``message``, dated ``now`` (aware).

    With a ``delivery_key`` the Message-ID is derived from it (stable across re-sends); without
    one it is random.
    """
    email = EmailMessage()
    email["Subject"] = one_line(message.subject)[:250]
    email["From"] = sender
    email["To"] = ", ".join(to)
    email["Date"] = format_datetime(now)
    email["Message-ID"] = (
        message_id(delivery_key, sender)
        if delivery_key
        else make_msgid(domain=sender.rpartition("@")[2] or None)
    )
    context: dict[str, Any] = {"message": message, "text": plain_text(message)}
    name = "digest" if message.digest is not None else "notices"
    if message.digest is not None:
        context["lines"] = digest_lines(message.digest)
    email.set_content(_templates.get_template(f"{name}.txt.j2").render(context))
    email.add_alternative(_templates.get_template(f"{name}.html.j2").render(context), subtype="html")
    return email


class EmailNotifier:
    """Sends each message as one email to ``to`` through the configured SMTP server.

    ``now`` is the wall clock (aware UTC) each email is dated by.
    """

    def __init__(
        self,
        smtp: SmtpSettings,
        to: list[str],
        *,
        now: Callable[[], datetime],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.smtp = smtp
        self._now = now
        self.to = list(to)
        self.channel = f"smtp:{smtp.host}:{','.join(self.to)}"
        self._context = ssl_context
        self._secrets = [smtp.password.get_secret_value()] if smtp.password is not None else []

    def _ssl(self) -> ssl.SSLContext:
        # verification stays on: a test injects a context that trusts its own CA, never CERT_NONE
        return self._context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.smtp.host, self.smtp.port, self.smtp.timeout_seconds
        if self.smtp.security == "tls":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._ssl())
        client = smtplib.SMTP(host, port, timeout=timeout)
        if self.smtp.security == "starttls":
            try:
                client.starttls(context=self._ssl())
            except BaseException:
                client.close()
                raise
        return client

    def send(self, message: Message) -> Outcome:
        """One email with a random Message-ID (``send_keyed`` is what deliveries use)."""
        return self.send_keyed(message, "")

    def send_keyed(self, message: Message, delivery_key: str) -> Outcome:
        """One email whose Message-ID is derived from ``delivery_key``: re-sends fold in clients."""
        email = render_email(
            message, sender=self.smtp.sender, to=self.to, now=self._now(), delivery_key=delivery_key
        )
        try:
            outcome = self._deliver(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = f"SMTP refused every recipient (codes {sorted(set(codes))})"
            outcome = Outcome.retry(text) if all(map(smtp_code_retryable, codes)) else Outcome.permanent(text)
        except smtplib.SMTPResponseException as exc:
            outcome = _reply(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:
            outcome = Outcome.permanent(f"SMTP server lacks a required extension: {exc}")
        except ssl.SSLCertVerificationError as exc:
            outcome = Outcome.permanent(f"SMTP server certificate failed verification: {exc.verify_message}")
        except (smtplib.SMTPException, OSError) as exc:
            outcome = Outcome.retry(f"SMTP unreachable: {type(exc).__name__}: {exc}")
        return Outcome(
            outcome.ok,
            outcome.retryable,
            redact(outcome.error, self._secrets)[:300],
            outcome.retry_after,
        )

    def _deliver(self, email: EmailMessage) -> Outcome:
        with self._connect() as client:
            if self.smtp.username and self.smtp.password is not None:
                client.login(self.smtp.username, self.smtp.password.get_secret_value())
            refused = client.send_message(email)
        if refused:
            # the others have it, so it stays sent (a retry would reach them twice); say who missed it
            missed = ", ".join(f"{address} ({code})" for address, (code, _) in sorted(refused.items()))
            return Outcome.sent(
                f"SMTP refused {len(refused)} of {count(len(self.to), 'recipient')}: {missed}"
            )
        return Outcome.sent()


def _reply(code: int, error: bytes | str) -> Outcome:
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    # cut after redaction (in send), never before: a cut secret is no longer recognised
    summary = f"SMTP server replied {code}: {one_line(text)}"
    return Outcome.retry(summary) if smtp_code_retryable(code) else Outcome.permanent(summary)
