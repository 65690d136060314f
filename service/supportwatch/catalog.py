"""``Catalog``: the known releases as of one day, indexed for the checks — pure.

Built from the store's reconciled ``Release`` values. Releases dated after ``today`` do not
exist yet (so ``--at`` in the past sees the past); releases without a date count as released.
Versions that fail to parse are kept out and counted in ``skipped``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from supportwatch.compatibility import Rules, chart_admits
from supportwatch.errors import VersionError
from supportwatch.models import Release
from supportwatch.policy import MaintenancePolicy, MinorWindow, minor_windows
from supportwatch.versions import AgentVersion, ImageTag, RuntimeVersion


@dataclass(frozen=True, slots=True)
class AgentRelease:
    version: AgentVersion
    released_on: date | None
    tags: tuple[ImageTag, ...]
    recommendable: bool


@dataclass(frozen=True, slots=True)
class ChartRelease:
    version: AgentVersion
    released_on: date | None
    app_version: AgentVersion | None
    recommendable: bool


@dataclass(slots=True)
class Catalog:
    """Agents, charts and Runtimes known on ``today``, with each agent minor's window."""

    today: date
    policy: MaintenancePolicy
    agents: dict[AgentVersion, AgentRelease] = field(default_factory=dict)
    charts: dict[AgentVersion, ChartRelease] = field(default_factory=dict)
    runtimes: set[RuntimeVersion] = field(default_factory=set)
    yanked: set[AgentVersion | RuntimeVersion] = field(default_factory=set)
    windows: dict[tuple[int, int], MinorWindow] = field(default_factory=dict)
    skipped: int = 0
    _newest: dict[tuple[int | None, int | None, int], AgentVersion | None] = field(default_factory=dict)
    _newest_chart_for: dict[AgentVersion, AgentVersion | None] = field(default_factory=dict)
    _ascending: list[AgentVersion] | None = None
    _charts_memo: dict[str, AgentVersion | None] = field(default_factory=dict)
    memo: dict[Hashable, Any] = field(default_factory=dict)
    """Derived answers of the pure remedy searches, keyed by their inputs (one catalog, one day)."""

    @classmethod
    def build(cls, releases: Iterable[Release], *, policy: MaintenancePolicy, today: date) -> Catalog:
        catalog = cls(today=today, policy=policy)
        for release in releases:
            if release.released_on is not None and release.released_on > today:
                continue
            try:
                catalog._add(release)
            except VersionError:
                catalog.skipped += 1
        dated = [(item.version, item.released_on) for item in catalog.agents.values() if item.released_on]
        catalog.windows = minor_windows(dated, policy)
        return catalog

    def _add(self, release: Release) -> None:
        recommendable = release.channel == "stable" and not release.yanked
        if release.component == "runtime":
            runtime = RuntimeVersion.parse(release.version)
            self.runtimes.add(runtime)
            if release.yanked:
                self.yanked.add(runtime)
            return
        version = AgentVersion.parse(release.version)
        recommendable = recommendable and not version.is_prerelease
        if release.yanked and release.component == "agent":
            self.yanked.add(version)
        if release.component == "agent":
            tags = tuple(_tags(release.image_tags))
            self.agents[version] = AgentRelease(version, release.released_on, tags, recommendable)
        else:
            app = _maybe_version(release.app_version)
            self.charts[version] = ChartRelease(version, release.released_on, app, recommendable)

    def _settled(self, released_on: date | None, grace_days: int) -> bool:
        return released_on is None or released_on <= self.today - timedelta(days=grace_days)

    def newest_agent(
        self, *, major: int | None = None, minor: int | None = None, grace_days: int = 0
    ) -> AgentVersion | None:
        """The newest recommendable agent (optionally of one major / minor) out for ``grace_days``."""
        key = (major, minor, grace_days)
        if key not in self._newest:
            self._newest[key] = self._scan_newest(major, minor, grace_days)
        return self._newest[key]

    def _scan_newest(self, major: int | None, minor: int | None, grace_days: int) -> AgentVersion | None:
        best: AgentVersion | None = None
        for item in self.agents.values():
            if not item.recommendable or not self._settled(item.released_on, grace_days):
                continue
            if major is not None and item.version.major != major:
                continue
            if minor is not None and item.version.minor != minor:
                continue
            if best is None or item.version > best:
                best = item.version
        return best

    def newest_chart(self) -> AgentVersion | None:
        """The newest recommendable chart version."""
        if "newest" not in self._charts_memo:
            versions = [item.version for item in self.charts.values() if item.recommendable]
            self._charts_memo["newest"] = max(versions) if versions else None
        return self._charts_memo["newest"]

    def newest_chart_admitting(self, rules: Rules, agent: AgentVersion) -> AgentVersion | None:
        """The newest recommendable chart whose matrix row admits ``agent``."""
        if agent not in self._newest_chart_for:
            fitting = [
                item.version
                for item in self.charts.values()
                if item.recommendable and chart_admits(rules, item.version, agent)
            ]
            self._newest_chart_for[agent] = max(fitting) if fitting else None
        return self._newest_chart_for[agent]

    def recommendable_agents(self, *, newer_than: AgentVersion | None = None) -> list[AgentVersion]:
        """Recommendable agents (optionally only those newer than a version), newest first."""
        if self._ascending is None:
            self._ascending = sorted(item.version for item in self.agents.values() if item.recommendable)
        start = 0 if newer_than is None else bisect_right(self._ascending, newer_than)
        return self._ascending[start:][::-1]

    def newest_minor(self, major: int) -> tuple[int, int] | None:
        """The newest released minor of ``major`` (no grace: a released minor is the latest)."""
        keys = [key for key in self.windows if key[0] == major]
        return max(keys) if keys else None

    def open_ended(self, minor: tuple[int, int]) -> bool:
        """Whether the policy keeps ``minor`` maintained past its date: the newest of its major."""
        return self.policy.latest_minor_supported and self.newest_minor(minor[0]) == minor

    def window(self, version: AgentVersion) -> MinorWindow | None:
        return self.windows.get(version.minor_key)

    def tags_of(self, version: AgentVersion) -> tuple[ImageTag, ...]:
        item = self.agents.get(version)
        return item.tags if item else ()


def _tags(texts: Iterable[str]) -> Iterable[ImageTag]:
    for text in texts:
        tag_text = text.rpartition(":")[2] if "/" in text else text
        try:
            yield ImageTag.parse(tag_text)
        except VersionError:
            continue


def _maybe_version(text: str | None) -> AgentVersion | None:
    if not text:
        return None
    try:
        return AgentVersion.parse(text)
    except VersionError:
        return None
