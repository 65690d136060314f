"""Email over real TLS on 127.0.0.1: STARTTLS and implicit TLS, with certificate verification."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ports import free_port
from supportwatch.notify.email import EmailNotifier

from .loopback import SMTP_PASSWORD, SmtpRecorder, SmtpServer, clock
from .test_email import message, smtp


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA, host: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(context)
    return context


def _trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()  # verification and hostname checks on, as in production
    ca.configure_trust(context)
    return context


def _authenticator(logins: list[str]) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    return authenticate


def _start(controller: Controller, recorder: SmtpRecorder, logins: list[str]) -> Iterator[SmtpServer]:
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, recorder, logins)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    recorder, logins = SmtpRecorder(), list[str]()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_context(ca, "127.0.0.1"),
        require_starttls=True,
        authenticator=_authenticator(logins),
        auth_require_tls=True,
    )
    yield from _start(controller, recorder, logins)


@pytest.fixture
def implicit_tls_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    recorder, logins = SmtpRecorder(), list[str]()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=_server_context(ca, "127.0.0.1"),
        authenticator=_authenticator(logins),
        auth_require_tls=False,  # the whole connection is TLS already
    )
    yield from _start(controller, recorder, logins)


def test_starttls_delivers_and_authenticates_inside_tls(starttls_server: SmtpServer, ca: trustme.CA) -> None:
    notifier = EmailNotifier(
        smtp(starttls_server, security="starttls"), ["team@example.com"], ssl_context=_trusting(ca), now=clock
    )
    outcome = notifier.send(message())
    assert outcome.ok, outcome.error
    assert starttls_server.logins == ["supportwatch"]  # the server refuses AUTH before TLS
    assert [e.rcpt_tos for e in starttls_server.recorder.envelopes] == [["team@example.com"]]


def test_implicit_tls_delivers(implicit_tls_server: SmtpServer, ca: trustme.CA) -> None:
    notifier = EmailNotifier(
        smtp(implicit_tls_server, security="tls"), ["team@example.com"], ssl_context=_trusting(ca), now=clock
    )
    assert notifier.send(message()).ok
    assert len(implicit_tls_server.recorder.envelopes) == 1


def test_untrusted_certificate_is_a_permanent_failure_and_nothing_is_sent(
    starttls_server: SmtpServer,
) -> None:
    stranger = _trusting(trustme.CA())  # trusts another CA, not the server's
    outcome = EmailNotifier(
        smtp(starttls_server, security="starttls"), ["team@example.com"], ssl_context=stranger, now=clock
    ).send(message())
    assert not outcome.ok
    assert not outcome.retryable
    assert "certificate" in (outcome.error or "")
    assert starttls_server.recorder.envelopes == []
    assert starttls_server.logins == []  # the password never crossed an unverified channel
    assert SMTP_PASSWORD not in (outcome.error or "")


def test_hostname_mismatch_is_refused(ca: trustme.CA) -> None:
    recorder, logins = SmtpRecorder(), list[str]()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=_server_context(ca, "mail.example.com"),  # valid, but for another name
        authenticator=_authenticator(logins),
    )
    controller.start()
    try:
        server = SmtpServer("127.0.0.1", controller.port, recorder, logins)
        notifier = EmailNotifier(
            smtp(server, security="tls"), ["team@example.com"], ssl_context=_trusting(ca), now=clock
        )
        outcome = notifier.send(message())
    finally:
        controller.stop()
    assert not outcome.ok
    assert not outcome.retryable
    assert recorder.envelopes == []


def test_default_context_does_not_trust_a_private_ca(implicit_tls_server: SmtpServer) -> None:
    # no injected context: the system trust store, which has never heard of the test CA
    outcome = EmailNotifier(smtp(implicit_tls_server, security="tls"), ["team@example.com"], now=clock).send(
        message()
    )
    assert not outcome.ok
    assert not outcome.retryable
    assert implicit_tls_server.recorder.envelopes == []
