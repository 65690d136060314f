"""Notices and messages — pure values, and the few text rules every rendering shares.

A ``Notice`` is one fact to tell one receiver (a finding firing, repeating or resolved), with
the deployment's one view (``checks.DeploymentReport``: state, end of maintenance, target and
plan) and a link to its dashboard page; a ``Message`` is what one send carries: notices (or a
digest), and where it belongs: the thread it replies to, which part of a run it is, the run's
overview. How a message looks is elsewhere: ``layout.py`` (grouping), ``text.py`` (plain text),
``slack_blocks.py`` (Block Kit) and the email templates.

Untrusted text (deployment names, summaries built from release data) is escaped for Slack so it
cannot ping ``<!channel>`` or forge a ``<url|link>``; Slack needs exactly ``&``, ``<`` and ``>``
escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from supportwatch.checks import DeploymentReport
from supportwatch.notify.digest import Digest
from supportwatch.report import end_text, state_text, target_text
from supportwatch.values import Finding
from supportwatch.wording import count, until

Status = Literal["firing", "resolved"]

SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}
# facts about the whole fleet: said once per receiver and run, listing the deployments
FLEET_KINDS = frozenset({"new_major_available", "chart_behind_latest", "chart_breaking_upgrade"})
# facts about the release sources, not a deployment: they go to the data-health receiver
HEALTH_KINDS = frozenset({"source_stale", "date_conflict"})
_FAMILIES = {"maintenance_ending": "maintenance", "end_of_maintenance": "maintenance"}
_RUNG = re.compile(r":rung-[0-9]+\Z")


def family(kind: str) -> str:
    """Kinds that replace one another as time passes share a family."""
    return _FAMILIES.get(kind, kind)


def thread_key(kind: str, dedup_key: str, episode: int = 0) -> str:
    """The conversation a finding's notices belong to: its first notice, reminders, repeats and
    resolution. A reminder rung and the end of maintenance that follows continue the first
    rung's thread; a finding that came back (a new episode) starts a thread of its own."""
    base = dedup_key
    if family(kind) == "maintenance":
        rest = dedup_key.partition(":")[2] or dedup_key
        base = "maintenance:" + _RUNG.sub("", rest)
    return f"{base}:episode-{episode}" if episode else base


def deployment_url(public_url: str | None, name: str) -> str | None:
    """The deployment's dashboard page, ``{public_url}/deployments/{name}`` (quoted), if configured."""
    if not public_url or not name:
        return None
    return f"{public_url.rstrip('/')}/deployments/{quote(name, safe='')}"


def one_line(text: str) -> str:
    """``text`` with every line break (CR, LF and Unicode separators) folded to a space."""
    return " ".join(text.split())


def escape_slack(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so Slack shows the text and parses no mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def label(kind: str) -> str:
    """``end_of_maintenance`` -> "End of maintenance"."""
    return kind.replace("_", " ").capitalize()


# fields a Notice gained after rows were first stored: written only when set, read when present
_LATER_FIELDS = ("subject", "target", "plan", "url", "thread")


@dataclass(frozen=True, slots=True)
class Notice:
    """One fact for one receiver; ``repeat`` > 0 for a critical finding's periodic re-send.

    ``state``, ``end``, ``target`` and ``plan`` are the deployment's one view as every surface
    prints it (None / empty in notices stored before they were added, and for data health);
    ``target`` is "" when nothing needs to change. ``url`` is the deployment's dashboard page;
    ``thread`` the conversation it continues (``thread_key``).
    """

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
    state: str | None = None
    end: str | None = None
    subject: str = ""
    target: str | None = None
    plan: tuple[str, ...] = ()
    url: str | None = None
    thread: str = ""

    @classmethod
    def of(
        cls,
        finding: Finding,
        *,
        status: Status = "firing",
        repeat: int = 0,
        report: DeploymentReport | None = None,
        url: str | None = None,
        thread: str = "",
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
            subject=finding.subject,
            target=target_text(report) if report is not None else None,
            plan=tuple(step.text for step in report.plan) if report is not None else (),
            url=url,
            thread=thread,
        )

    def with_report(self, report: DeploymentReport, url: str | None) -> Notice:
        """This notice with the deployment's view as of ``report`` (a resolution says where it stands now)."""
        return _replace(
            self,
            state=state_text(report),
            end=end_text(report),
            target=target_text(report),
            plan=tuple(step.text for step in report.plan),
            url=url or self.url,
        )

    @property
    def is_health(self) -> bool:
        return self.kind in HEALTH_KINDS or not self.deployment

    @property
    def rank(self) -> int:
        """How loud it is: critical 3, warning 2, info 1; a resolution 0."""
        return 0 if self.status == "resolved" else SEVERITY_RANK.get(self.severity, 0)

    @property
    def title(self) -> str:
        what = label(self.kind)
        where = f"({self.subject})" if self.is_health and self.subject else f"on {self.deployment}"
        if self.status == "resolved":
            return f"Resolved: {what} {where}"
        again = f" (reminder {self.repeat})" if self.repeat else ""
        return f"{self.severity.upper()}: {what} {where}{again}"

    @property
    def when(self) -> str:
        """The end of maintenance as printed, with how far away it is: "2026-07-28 (in 29 days)"."""
        away = f" ({until(self.days_left)})" if self.days_left is not None and self.end_of_maintenance else ""
        if self.end is not None:
            return self.end + away
        return f"{self.end_of_maintenance.isoformat()}{away}" if self.end_of_maintenance else ""

    def to_payload(self) -> dict[str, Any]:
        # every field is a plain value: a shallow copy is the JSON (asdict deep-copies, slowly)
        data = {name: getattr(self, name) for name in _FIELDS}
        data["end_of_maintenance"] = self.end_of_maintenance.isoformat() if self.end_of_maintenance else None
        data["plan"] = list(self.plan)
        for name in _LATER_FIELDS:
            if data[name] in (None, "", []):
                del data[name]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Notice:
        eom = data.get("end_of_maintenance")
        values = {**data, "end_of_maintenance": date.fromisoformat(eom) if eom else None}
        if "plan" in values:
            values["plan"] = tuple(str(step) for step in values["plan"])
        return cls(**values)


_FIELDS = tuple(item.name for item in fields(Notice))


def _replace(notice: Notice, **changes: Any) -> Notice:
    values = {name: getattr(notice, name) for name in _FIELDS}
    return Notice(**{**values, **changes})


@dataclass(frozen=True, slots=True)
class Overview:
    """What a run tells one receiver, counted: deployments affected, notices by severity."""

    deployments: int = 0
    critical: int = 0
    warning: int = 0
    info: int = 0
    resolved: int = 0
    health: int = 0

    @classmethod
    def of(cls, notices: Sequence[Notice]) -> Overview:
        firing = [n for n in notices if n.status == "firing"]
        return cls(
            deployments=len({n.deployment for n in notices if not n.is_health}),
            critical=sum(n.severity == "critical" for n in firing),
            warning=sum(n.severity == "warning" for n in firing),
            info=sum(n.severity == "info" for n in firing),
            resolved=len(notices) - len(firing),
            health=sum(n.is_health for n in notices),
        )

    @property
    def counts(self) -> list[str]:
        """``["2 critical", "5 warning", "1 resolved"]``: the non-zero counts, loudest first."""
        pairs = (
            ("critical", self.critical),
            ("warning", self.warning),
            ("info", self.info),
            ("resolved", self.resolved),
        )
        return [f"{number} {name}" for name, number in pairs if number]

    def text(self) -> str:
        """``3 deployments affected: 2 critical, 5 warning, 1 resolved`` (one line)."""
        what = [count(self.deployments, "deployment") + " affected"] if self.deployments else []
        what += [f"{count(self.health, 'data-health notice')}"] if self.health else []
        return f"{', '.join(what) or 'nothing'}: {', '.join(self.counts) or 'no notices'}"


@dataclass(frozen=True, slots=True)
class Message:
    """What one send carries to one receiver: notices, or a digest.

    ``thread`` is the id of the message this one replies to (a Slack ``ts``, an email
    Message-ID) and ``thread_subject`` that message's subject; ``part`` of ``parts`` when a run's
    notices to one target take several messages, and ``overview`` (on the first) counts them all.
    """

    receiver: str
    notices: tuple[Notice, ...] = ()
    digest: Digest | None = None
    thread: str | None = None
    thread_subject: str | None = None
    part: int = 1
    parts: int = 1
    overview: Overview | None = None

    @property
    def subject(self) -> str:
        if self.thread_subject:
            root = self.thread_subject
            return root if root.startswith("Re: ") else f"Re: {root}"
        if self.digest is not None:
            return f"[supportwatch] Weekly digest {self.digest.week} for {self.receiver}"
        if len(self.notices) == 1:
            return f"[supportwatch] {one_line(self.notices[0].title)}"
        return (
            f"[supportwatch] {len(self.notices)} notices for {self.receiver} (worst: {worst(self.notices)})"
        )

    @property
    def summary(self) -> Overview:
        """The counts this message opens with: the run's (first part) or its own."""
        return self.overview or Overview.of(self.notices)


def worst(notices: Sequence[Notice]) -> str:
    """The loudest firing severity among ``notices``, or "resolved" when none fires."""
    firing = [n for n in notices if n.status == "firing"]
    return max(firing, key=lambda n: n.rank).severity if firing else "resolved"
