"""Values passed between layers: frozen dataclasses and enums, standard library only.

Values carry no behaviour beyond small derived properties; the persisted tables that hold them
are in ``tables.py``, touched only by the store modules. The bounds of what a source may store
(the column lengths) live here too, with ``clean_text`` and ``storable``: the one check the
sources and the store both apply, so a value from a source never reaches the database too long
or carrying terminal controls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from supportwatch.versions import AgentVersion, ImageRef, RuntimeVersion

Component = Literal["agent", "chart", "runtime"]
COMPONENTS: tuple[Component, ...] = ("agent", "chart", "runtime")

# Column lengths: the tables below use them, and so do ``storable`` and the sources' checks.
COMPONENT_MAX = 16
VERSION_MAX = 64
APP_VERSION_MAX = 64
CHANNEL_MAX = 32
IMAGE_TAG_MAX = 128  # the OCI limit on a tag; stored in a JSON list, bounded all the same
SOURCE_NAME_MAX = 128
URL_MAX = 2048
ETAG_MAX = 512
LAST_MODIFIED_MAX = 128
ERROR_MAX = 2000

# Terminal escape sequences (ECMA-48): CSI, the string controls (OSC, DCS, SOS, PM, APC) up to
# their terminator, and the other two-character ESC sequences; in 7-bit and 8-bit forms.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -/]*[0-~]",
    re.DOTALL,
)
_SPACING = re.compile(r"[\t\n\v\f\r]")
# C0, DEL, C1, and the bidirectional overrides that make text read otherwise than it is
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """``text`` without terminal escape sequences and control characters.

    Tabs and line breaks become ordinary spaces; every other C0/C1 control character (and the
    Unicode bidirectional overrides) is removed, so nothing a source sends can move a cursor,
    retitle a window or recolour a terminal when it is printed.
    """
    if text.isascii() and text.isprintable():
        return text
    return _CONTROLS.sub("", _SPACING.sub(" ", _ESCAPES.sub("", text)))


@dataclass(frozen=True, slots=True)
class Release:
    """One version of one component as a source reports it (or as the store reconciled it).

    ``sources`` is filled by the store: the names of every source that has reported it.
    """

    component: Component
    version: str
    released_on: date | None
    app_version: str | None = None
    image_tags: tuple[str, ...] = ()
    channel: str = "stable"
    yanked: bool = False
    sources: tuple[str, ...] = ()


def storable(release: Release) -> Release | str:
    """``release`` as it may be stored (text cleaned, over-long image tags dropped), or why not.

    A version, app version or channel longer than its column refuses the release: cutting one
    would record a version nobody released. The reason names the field and its length.
    """
    version = clean_text(release.version).strip()
    app = None if release.app_version is None else clean_text(release.app_version).strip() or None
    channel = clean_text(release.channel).strip() or "stable"
    if release.component not in COMPONENTS:
        return f"unknown component {clean_text(release.component)[:COMPONENT_MAX]!r}"
    if not version:
        return "an empty version"
    for what, value, limit in (
        ("version", version, VERSION_MAX),
        ("app version", app, APP_VERSION_MAX),
        ("channel", channel, CHANNEL_MAX),
    ):
        if value is not None and len(value) > limit:
            name = f"{release.component} {version[:VERSION_MAX]!r}"
            return f"{name}: its {what} is {len(value)} characters (max {limit})"
    tags = tuple(
        tag
        for tag in (clean_text(item).strip() for item in release.image_tags)
        if 0 < len(tag) <= IMAGE_TAG_MAX
    )
    if (version, app, channel, tags) == (
        release.version,
        release.app_version,
        release.channel,
        release.image_tags,
    ):
        return release
    return replace(release, version=version, app_version=app, channel=channel, image_tags=tags)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one source said about one version, and when it last said it."""

    component: Component
    version: str
    source: str
    url: str | None
    released_on: date | None
    first_seen_at: datetime
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment a team tracks, as configured."""

    name: str
    team: str
    image: ImageRef
    chart_version: AgentVersion | None = None
    orchestration_runtime: RuntimeVersion | None = None
    platform: str = "linux"
    namespace: str | None = None  # Kubernetes namespace and Helm release: the plan's commands use them
    helm_release: str | None = None


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 3, warning 2, info 1."""
        return _RANK[self.value]


_RANK = {"critical": 3, "warning": 2, "info": 1}


class FindingKind(StrEnum):
    END_OF_MAINTENANCE = "end_of_maintenance"
    MAINTENANCE_ENDING = "maintenance_ending"
    BEHIND_LATEST_PATCH = "behind_latest_patch"
    BEHIND_LATEST_MINOR = "behind_latest_minor"
    NEW_MAJOR_AVAILABLE = "new_major_available"
    CHART_INCOMPATIBLE = "chart_incompatible"
    CHART_BREAKING_UPGRADE = "chart_breaking_upgrade"
    CHART_BEHIND_LATEST = "chart_behind_latest"
    RUNTIME_SKEW = "runtime_skew"
    KNOWN_INCOMPATIBILITY = "known_incompatibility"
    FLOATING_TAG = "floating_tag"
    UNKNOWN_VERSION = "unknown_version"
    UNSUPPORTED_PLATFORM = "unsupported_platform"
    YANKED_VERSION = "yanked_version"
    PRERELEASE_VERSION = "prerelease_version"
    SOURCE_STALE = "source_stale"
    DATE_CONFLICT = "date_conflict"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth knowing) about one deployment, with the exact fix.

    ``dedup_key`` is derived from the facts only (kind, deployment, versions, rung), so the
    same facts give the same key on every run and machine, and new facts give a new key.
    ``deployment`` is empty for data-health findings that concern a source, not a deployment.
    """

    kind: FindingKind
    severity: Severity
    deployment: str
    team: str
    subject: str
    dedup_key: str
    summary: str
    remedy: str
    end_of_maintenance: date | None = None
    days_left: int | None = None


# --- release sources -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's health and HTTP validators as last recorded.

    ``url`` is where the source is fetched now (a 301 moves it); ``configured_url`` is what the
    config said when this state began, so editing the config starts afresh. ``release_count``
    is how many releases the last accepted answer held (the shrink check compares to it).
    """

    name: str
    configured_url: str | None = None
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    disabled: bool = False
    release_count: int = 0
