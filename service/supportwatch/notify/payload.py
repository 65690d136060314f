"""What a delivery-log row carries: one notice, or one receiver's digest — typed, and as JSON.

The row's ``payload`` column holds ``{"notice": {...}}`` or ``{"digest": {...}}`` (the shape
every supportwatch so far has written: rows of older versions are read as they are). A retry or
a resumed claim renders the message again from it, so it re-sends exactly the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supportwatch.notify.digest import Digest
from supportwatch.notify.message import Notice


@dataclass(frozen=True, slots=True)
class NoticePayload:
    """One notice (a finding firing, repeating or resolved) for one target."""

    notice: Notice

    def to_json(self) -> dict[str, Any]:
        return {"notice": self.notice.to_payload()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NoticePayload:
        return cls(Notice.from_payload(dict(data["notice"])))


@dataclass(frozen=True, slots=True)
class DigestPayload:
    """One receiver's weekly digest; sent alone, never grouped with notices."""

    digest: Digest

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest.to_payload()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DigestPayload:
        return cls(Digest.from_payload(data["digest"]))


Payload = NoticePayload | DigestPayload


def read_payload(data: Mapping[str, Any]) -> Payload:
    """The payload a row stores; raises (``ValueError``, ``TypeError``, ``KeyError``) if unreadable."""
    if "digest" in data:
        return DigestPayload.from_json(data)
    if "notice" in data:
        return NoticePayload.from_json(data)
    raise ValueError("neither a notice nor a digest")
