"""Notices and messages, and their Slack and plain-text renderings — pure.

A ``Notice`` is one fact to tell one receiver (a finding firing, repeating or resolved); a
``Message`` is what one send carries: notices, or a digest. Untrusted text (deployment names,
summaries built from release data) is escaped for Slack so it cannot ping ``<!channel>`` or
forge a ``<url|link>``; Slack needs exactly ``&``, ``<`` and ``>`` escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

from supportwatch.checks import DeploymentReport
from supportwatch.notify.digest import Digest, digest_lines
from supportwatch.report import end_text, state_text
from supportwatch.values import Finding
from supportwatch.wording import until

Status = Literal["firing", "resolved"]

# Slack's documented limits: 50 blocks per message, 3000 characters per section text, 150 per
# header; the top-level text is truncated past 40,000 and should stay under 4,000.
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_TEXT_CHARS = 3900
SLACK_NOTICES_PER_MESSAGE = 40

_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}


@dataclass(frozen=True, slots=True)
class Notice:
    """One fact for one receiver; ``repeat`` > 0 for a critical finding's periodic re-send."""

    status: Status
    kind: str
    severity: str
    deployment: str
    team: str
    summary: str
    remedy: str
    dedup_key: str
    end_of_maintenance: date | None = None
    days_left: int | None = None
    repeat: int = 0
    # the deployment's one view (checks.DeploymentReport) as every surface prints it
    state: str | None = None
    end: str | None = None

    @classmethod
    def of(
        cls,
        finding: Finding,
        *,
        status: Status = "firing",
        repeat: int = 0,
        report: DeploymentReport | None = None,
    ) -> Notice:
        return cls(
            status=status,
            kind=finding.kind.value,
            severity=finding.severity.value,
            deployment=finding.deployment,
            team=finding.team,
            summary=finding.summary,
            remedy=finding.remedy,
            dedup_key=finding.dedup_key,
            end_of_maintenance=finding.end_of_maintenance,
            days_left=finding.days_left,
            repeat=repeat,
            state=state_text(report) if report is not None else None,
            end=end_text(report) if report is not None else None,
        )

    @property
    def title(self) -> str:
        what = self.kind.replace("_", " ").capitalize()
        if self.status == "resolved":
            return f"Resolved: {what} on {self.deployment}"
        again = f" (reminder {self.repeat})" if self.repeat else ""
        return f"{self.severity.upper()}: {what} on {self.deployment}{again}"

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) lines after the summary: end of maintenance, days left, the fix."""
        if self.status != "firing":
            return []
        lines: list[tuple[str, str]] = []
        if self.state is not None:
            lines.append(("State", self.state))
        when = f" ({until(self.days_left)})" if self.days_left is not None and self.end_of_maintenance else ""
        if self.end is not None:
            lines.append(("End of maintenance", self.end + when))
        elif self.end_of_maintenance is not None:
            lines.append(("End of maintenance", f"{self.end_of_maintenance.isoformat()}{when}"))
        lines.append(("Fix", self.remedy))
        return lines

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["end_of_maintenance"] = self.end_of_maintenance.isoformat() if self.end_of_maintenance else None
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Notice:
        eom = data.get("end_of_maintenance")
        return cls(**{**data, "end_of_maintenance": date.fromisoformat(eom) if eom else None})


@dataclass(frozen=True, slots=True)
class Message:
    """What one send carries to one receiver: notices, or a digest."""

    receiver: str
    notices: tuple[Notice, ...] = ()
    digest: Digest | None = None

    @property
    def subject(self) -> str:
        if self.digest is not None:
            return f"[supportwatch] Weekly digest {self.digest.week} for {self.receiver}"
        if len(self.notices) == 1:
            return f"[supportwatch] {one_line(self.notices[0].title)}"
        worst = _worst(self.notices)
        return f"[supportwatch] {len(self.notices)} notices for {self.receiver} (worst: {worst})"


def _worst(notices: Sequence[Notice]) -> str:
    order = {"critical": 3, "warning": 2, "info": 1}
    firing = [n.severity for n in notices if n.status == "firing"]
    return max(firing, key=lambda s: order.get(s, 0)) if firing else "resolved"


def one_line(text: str) -> str:
    """``text`` with every line break (CR, LF and Unicode separators) folded to a space."""
    return " ".join(text.split())


# --- plain text -------------------------------------------------------------------------


def notice_text(notice: Notice) -> str:
    lines = [notice.title, notice.summary, *(f"{label}: {value}" for label, value in notice.facts())]
    return "\n".join(lines)


def plain_text(message: Message) -> str:
    """The message as plain text: the console output and the email/Slack fallback."""
    if message.digest is not None:
        return "\n".join(digest_lines(message.digest))
    return "\n\n".join(notice_text(notice) for notice in message.notices)


# --- Slack ------------------------------------------------------------------------------


def escape_slack(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so Slack shows the text and parses no mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """Cut escaped Slack text to ``limit`` characters without splitting an ``&amp;``-style escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _clip_escaped(text: str, limit: int) -> str:
    return _clip(escape_slack(text), limit)


def notice_mrkdwn(notice: Notice) -> str:
    emoji = ":white_check_mark:" if notice.status == "resolved" else _EMOJI.get(notice.severity, "")
    lines = [f"{emoji} *{escape_slack(notice.title)}*", escape_slack(notice.summary)]
    lines += [f"*{label}:* {escape_slack(value)}" for label, value in notice.facts()]
    return "\n".join(lines)


def slack_chunks(notices: Sequence[Notice]) -> list[tuple[Notice, ...]]:
    """Split notices into groups whose Slack messages stay within the block and text limits."""
    chunks: list[tuple[Notice, ...]] = []
    current: list[Notice] = []
    size = 0
    for notice in notices:
        length = min(len(notice_mrkdwn(notice)), SLACK_SECTION_CHARS) + 2
        if current and (size + length > SLACK_TEXT_CHARS or len(current) >= SLACK_NOTICES_PER_MESSAGE):
            chunks.append(tuple(current))
            current, size = [], 0
        current.append(notice)
        size += length
    if current:
        chunks.append(tuple(current))
    return chunks


def slack_payload(message: Message) -> dict[str, Any]:
    """``{"text", "blocks"}`` for ``chat.postMessage`` or an incoming webhook; all text escaped."""
    if message.digest is not None:
        return _digest_payload(message)
    header = f"supportwatch: {len(message.notices)} notice{'s' if len(message.notices) != 1 else ''}"
    sections = [_clip(notice_mrkdwn(n), SLACK_SECTION_CHARS) for n in message.notices]
    blocks: list[dict[str, Any]] = [_header(f"{header} for {message.receiver}")]
    blocks += [_section(text) for text in sections[: SLACK_MAX_BLOCKS - 1]]
    fallback = _clip_escaped(plain_text(message), SLACK_TEXT_CHARS)
    return {"text": fallback, "blocks": blocks}


def _digest_payload(message: Message) -> dict[str, Any]:
    assert message.digest is not None
    lines = digest_lines(message.digest)
    sections: list[str] = []
    for line in lines[1:]:
        text = _clip_escaped(line, SLACK_SECTION_CHARS)
        if sections and len(sections[-1]) + len(text) + 1 <= SLACK_SECTION_CHARS:
            sections[-1] += "\n" + text
        else:
            sections.append(text)
    if len(sections) > SLACK_MAX_BLOCKS - 1:
        sections = [*sections[: SLACK_MAX_BLOCKS - 2], "… (truncated: Slack allows 50 blocks)"]
    blocks = [_header(lines[0]), *(_section(text) for text in sections)]
    return {"text": _clip_escaped("\n".join(lines), SLACK_TEXT_CHARS), "blocks": blocks}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip_escaped(text, 150)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
