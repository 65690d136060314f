"""``MailSink``: the demo's local mail server, an SMTP server on 127.0.0.1 filling a ``Mailbox``.

aiosmtpd's threaded ``Controller`` on a socket bound to an ephemeral port before it starts
(no race for a "free" port). It accepts any sender and recipient without authentication
(``smtp.security: none`` in the demo's config, loopback only) and stores each message as
received, with ``Return-Path`` and ``X-Original-To`` lines in front, as ``<id>.eml``: written
under a temporary name and renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller

from supportwatch.demo.mailbox import MAX_MESSAGE_BYTES, SUFFIX, Mailbox, new_message_id
from supportwatch.values import clean_text

_HEADER_MAX = 500
logger = logging.getLogger("supportwatch.demo.sink")


def _address(text: str) -> str:
    """An envelope address fit for a header line (the SMTP command line holds no CR/LF; be sure)."""
    return clean_text(text).replace("\r", "").replace("\n", "")[:_HEADER_MAX]


class _Store:
    """The aiosmtpd handler: writes each message into ``folder`` as ``<id>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        sender = _address(str(envelope.mail_from or ""))
        recipients = ", ".join(_address(str(address)) for address in envelope.rcpt_tos)
        trace = f"Return-Path: <{sender}>\r\nX-Original-To: {recipients}\r\n".encode("utf-8", "replace")
        message_id = new_message_id(datetime.now(UTC))
        try:
            self._write(message_id, trace + content)
        except OSError as exc:
            logger.warning("the demo's mail sink cannot store a message in %s: %s", self.folder, exc)
            return "451 4.3.0 the demo's mailbox cannot store the message"
        return f"250 OK stored as {message_id}"

    def _write(self, message_id: str, data: bytes) -> None:
        descriptor, temporary = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, self.folder / f"{message_id}{SUFFIX}")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class _BoundController(Controller):
    """aiosmtpd's ``Controller`` serving on a socket that is already bound and listening."""

    def __init__(self, handler: Any, listener: socket.socket, **kwargs: Any) -> None:
        host, port = listener.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._listener = listener

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._listener)


class MailSink:
    """An SMTP server on 127.0.0.1 storing every message in ``folder``; ``start()``, ``close()``."""

    host = "127.0.0.1"

    def __init__(self, folder: Path, *, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._listener = socket.create_server((self.host, 0))
        self.port = int(self._listener.getsockname()[1])
        self._controller = _BoundController(
            _Store(self.folder),
            self._listener,
            # a fixed name: the default, socket.getfqdn(), may wait on DNS, and the demo needs no network
            server_hostname="supportwatch-demo.localhost",
            data_size_limit=max_bytes,
            ready_timeout=5.0,
        )
        self._running = False

    @property
    def mailbox(self) -> Mailbox:
        return Mailbox(self.folder)

    def start(self) -> Self:
        if not self._running:
            try:
                self._controller.start()
            except BaseException:
                self._controller.stop(no_assert=True)  # a thread it may have started
                self.close()
                raise
            self._running = True
        return self

    def close(self) -> None:
        """Stop the server and release the port (idempotent)."""
        if self._running:
            self._controller.stop()  # its thread closes the event loop
            self._running = False
        elif not self._controller.loop.is_closed() and not self._controller.loop.is_running():
            self._controller.loop.close()  # never started
        self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
