"""``Mailbox``: the messages the demo's mail sink stored, for the dashboard to list and show.

Standard library only (the web app imports it; the SMTP server is in ``sink``). The sink
stores each message as ``<id>.eml`` in one folder. An id is ``20260801T120000123456Z-1a2b3c4d``:
the UTC time the message arrived, then random hex. It is safe in a URL, sorts in arrival
order, and ``Mailbox`` accepts nothing else, so an id can never name a path outside the
folder; files are opened without following symlinks.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from supportwatch.values import clean_text

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
_ID = re.compile(r"[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}")
SUFFIX = ".eml"
_HEADER_MAX = 500


class MessageNotFound(LookupError):
    """No stored message has this id (or the id is not one the sink gives out)."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"no message {clean_text(message_id)[:80]!r} in the demo's mailbox")
        self.message_id = message_id


@dataclass(frozen=True, slots=True)
class MailSummary:
    """What the dashboard lists of one stored message; ``from_`` is its From header."""

    id: str
    subject: str
    from_: str
    to: str
    date: datetime
    path: Path
    size: int


def new_message_id(now: datetime) -> str:
    """A fresh id for a message that arrived at ``now`` (aware)."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


def is_message_id(text: str) -> bool:
    """Whether ``text`` is an id the sink gives out: the form, and a real time in it."""
    if _ID.fullmatch(text) is None:
        return False
    try:
        _arrival(text)
    except ValueError:
        return False
    return True


class Mailbox:
    """The messages the sink stored in ``folder``, newest first."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def messages(self, limit: int | None = None) -> list[MailSummary]:
        """Summaries of the stored messages, newest first (at most ``limit``)."""
        try:
            entries = [
                entry
                for entry in os.scandir(self.folder)
                if entry.name.endswith(SUFFIX)
                and is_message_id(entry.name[: -len(SUFFIX)])
                and entry.is_file(follow_symlinks=False)
            ]
        except FileNotFoundError:
            return []
        entries.sort(key=lambda entry: entry.name, reverse=True)
        summaries = []
        for entry in entries[:limit]:
            try:
                summaries.append(self._summary(entry.name[: -len(SUFFIX)]))
            except MessageNotFound:  # removed while listing
                continue
        return summaries

    def summary(self, message_id: str) -> MailSummary:
        """One message's summary; raises ``MessageNotFound``."""
        return self._summary(message_id)

    def read(self, message_id: str) -> bytes:
        """The stored message (RFC 5322 bytes, ``message/rfc822``); raises ``MessageNotFound``."""
        path = self.path_of(message_id)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            handle = os.open(path, flags)
        except OSError:
            raise MessageNotFound(message_id) from None
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):  # a folder or a FIFO with a message's name
                raise MessageNotFound(message_id)
            file = os.fdopen(handle, "rb")
        except BaseException:
            os.close(handle)
            raise
        with file:
            return file.read(MAX_MESSAGE_BYTES + 64 * 1024)

    def path_of(self, message_id: str) -> Path:
        """The file a valid id names (it may not exist); raises ``MessageNotFound`` for any other id."""
        if not is_message_id(message_id):
            raise MessageNotFound(message_id)
        return self.folder / f"{message_id}{SUFFIX}"

    def _summary(self, message_id: str) -> MailSummary:
        raw = self.read(message_id)
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        return MailSummary(
            id=message_id,
            subject=_header(headers, "Subject"),
            from_=_header(headers, "From"),
            to=_header(headers, "To") or _header(headers, "X-Original-To"),
            date=_date(headers) or _arrival(message_id),
            path=self.path_of(message_id),
            size=len(raw),
        )


def _header(headers: Message, name: str) -> str:
    """The header decoded (RFC 2047), or as written when it does not parse; "" when absent."""
    try:
        value = headers.get(name)
        text = "" if value is None else str(value)
    except Exception:  # a malformed header must not hide the message from the list
        text = next((str(raw) for key, raw in headers.raw_items() if key.lower() == name.lower()), "")
    # one line, single spaces: folding and RFC 2047 decoding can leave runs of whitespace
    return " ".join(clean_text(text).split())[:_HEADER_MAX]


def _date(headers: Message) -> datetime | None:
    try:
        value = headers.get("Date")
        moment = parsedate_to_datetime(str(value)) if value is not None else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _arrival(message_id: str) -> datetime:
    return datetime.strptime(message_id[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
