"""Email over SMTP with the standard library: STARTTLS or TLS with certificate verification.

``security: none`` is used only when the config says so. Headers are set on an
``email.message.EmailMessage`` (default policy), which refuses CR/LF in a header value; the
subject is folded to one line first, so untrusted text can never add a header or recipient.
SMTP 4xx replies and network errors are retryable; 5xx replies and TLS failures are not.

Delivery is at least once, so a crash between the server's "250 accepted" and the record can
send an email twice. The Message-ID is derived from the delivery key (target and the keys the
email settles, hashed), so a re-send carries the same Message-ID and mail clients and archives
fold the two into one. A follow-up (a reminder, a repeat, a resolution) carries ``In-Reply-To``
and ``References`` naming its thread's first email, and that email's subject after ``Re:``, so
mail clients thread them.

Every email is ``From: supportwatch <sender>`` (``smtp.sender_name``) and ``Auto-Submitted:
auto-generated`` (RFC 3834: auto-responders must not answer it). The HTML part is styled inline
(mail clients drop style sheets) as stacked blocks without fixed widths, readable on a phone;
the text part says the same.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from supportwatch.config import SmtpSettings
from supportwatch.notify.base import Outcome, redact
from supportwatch.notify.classify import smtp_code_retryable
from supportwatch.notify.digest import STATES, digest_lines, digest_summary, end_phrase
from supportwatch.notify.layout import layout
from supportwatch.notify.message import Message, label, one_line
from supportwatch.notify.text import opening, plain_text
from supportwatch.wording import count, until

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["until"] = until
_templates.filters["label"] = label
_templates.globals["end_phrase"] = end_phrase
_templates.globals["count"] = count

# inline styles (mail clients drop <style>); no fixed widths: blocks stack, long words wrap
_INK, _MUTED, _LINE = "#101828", "#475467", "#eaecf0"
COLORS = {
    "critical": ("#b42318", "#fef3f2"),
    "unmaintained": ("#b42318", "#fef3f2"),
    "warning": ("#b54708", "#fffaeb"),
    "behind": ("#b54708", "#fffaeb"),
    "info": ("#175cd3", "#eff8ff"),
    "unknown": ("#475467", "#f2f4f7"),
    "resolved": ("#067647", "#ecfdf3"),
    "current": ("#067647", "#ecfdf3"),
}
STYLE = {
    "body": "margin:0;padding:0;background:#f2f4f7;",
    "page": (
        f"max-width:720px;margin:0 auto;padding:16px 12px;color:{_INK};font-size:15px;line-height:1.45;"
        "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
        "overflow-wrap:anywhere;word-wrap:break-word;"
    ),
    "h1": "font-size:20px;line-height:1.3;margin:0 0 6px;",
    "h2": f"font-size:16px;margin:20px 0 8px;color:{_INK};",
    "lead": f"margin:0 0 12px;color:{_MUTED};",
    "card": (
        f"background:#ffffff;border:1px solid {_LINE};border-radius:6px;padding:12px 14px;margin:0 0 12px;"
    ),
    "name": "font-size:17px;font-weight:600;margin:0 0 4px;",
    "muted": f"color:{_MUTED};font-weight:400;",
    "row": "margin:6px 0 0;",
    "item": "margin:10px 0 0;",
    "code": (
        "font-family:SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;background:#f2f4f7;"
        "padding:1px 4px;border-radius:4px;word-break:break-all;"
    ),
    "list": "margin:6px 0 0;padding:0 0 0 20px;",
    "link": "color:#175cd3;",
    "foot": f"margin:20px 0 0;color:{_MUTED};font-size:13px;",
}


def badge(tone: str) -> str:
    """The inline style of a small coloured label for a severity or state."""
    ink, paper = COLORS.get(tone, (_MUTED, "#f2f4f7"))
    return (
        f"display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;"
        f"letter-spacing:0.02em;color:{ink};background:{paper};border:1px solid {ink};"
    )


def edge(tone: str) -> str:
    """The inline style of a card's coloured left edge."""
    ink, _ = COLORS.get(tone, (_MUTED, "#f2f4f7"))
    return f"border-left:4px solid {ink};"


_templates.globals["badge"] = badge
_templates.globals["edge"] = edge


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
    sender_name: str = "supportwatch",
) -> EmailMessage:
    """The multipart (text + HTML) email for ``message``, dated ``now`` (aware).

    With a ``delivery_key`` the Message-ID is derived from it (stable across re-sends); without
    one it is random. A message in a thread (``message.thread``, the first email's Message-ID)
    replies to it.
    """
    email = EmailMessage()
    email["Subject"] = one_line(message.subject)[:250]
    email["From"] = str(Address(display_name=one_line(sender_name), addr_spec=sender))
    email["To"] = ", ".join(to)
    email["Date"] = format_datetime(now)
    email["Message-ID"] = (
        message_id(delivery_key, sender)
        if delivery_key
        else make_msgid(domain=sender.rpartition("@")[2] or None)
    )
    if message.thread:
        email["In-Reply-To"] = message.thread
        email["References"] = message.thread
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office replies either
    name = "digest" if message.digest is not None else "notices"
    context = _context(message)
    email.set_content(_templates.get_template(f"{name}.txt.j2").render(context))
    email.add_alternative(_templates.get_template(f"{name}.html.j2").render(context), subtype="html")
    return email


def render_html(message: Message) -> str:
    """The HTML part alone (for previews and the layout tests)."""
    name = "digest" if message.digest is not None else "notices"
    return _templates.get_template(f"{name}.html.j2").render(_context(message))


def _context(message: Message) -> dict[str, Any]:
    context: dict[str, Any] = {"message": message, "text": plain_text(message), "style": STYLE}
    if message.digest is not None:
        digest = message.digest
        context["lines"] = digest_lines(digest)
        context["summary"] = digest_summary(digest)
        context["groups"] = [
            (state, [line for line in digest.deployments if line.state == state])
            for state in [*STATES, *sorted({d.state for d in digest.deployments} - set(STATES))]
            if any(line.state == state for line in digest.deployments)
        ]
    else:
        context["layout"] = layout(message.notices)
        context["opening"] = opening(message)
    return context


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

    threads = True  # a follow-up replies to its thread's first email (In-Reply-To)

    def send_keyed(self, message: Message, delivery_key: str) -> Outcome:
        """One email whose Message-ID is derived from ``delivery_key``: re-sends fold in clients.

        A sent outcome's ``external_id`` is that Message-ID: follow-ups reply to it."""
        email = render_email(
            message,
            sender=self.smtp.sender,
            to=self.to,
            now=self._now(),
            delivery_key=delivery_key,
            sender_name=self.smtp.sender_name,
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
            str(email["Message-ID"]) if outcome.ok else "",
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
