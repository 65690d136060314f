"""``Catalog``: the known releases as of one day, indexed for the checks — pure.

Built from the store's reconciled ``Release`` values. Releases dated after ``today`` do not
exist yet (so ``--at`` in the past sees the past); releases without a date count as released.
Versions that fail to parse are kept out and counted in ``skipped``.

How the policy is read (README "How the policy is read"):

1. The newest-minor exemption (``latest_minor_supported``) belongs to the newest *stable*
   minor overall, not to the newest minor of each major.
2. A newer release counts once it has been out ``behind_grace_days``. Until then the minor it
   will push out of maintenance stays maintained, and its end is known: the later of its
   nominal end and the day the newer release counts (``Maintenance.ends_on``).
3. Yanked, non-stable and pre-release versions never count: they end no exemption, make
   nothing behind and are never recommended (``recommendable``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar, cast

from supportwatch.compatibility import Rules, chart_admits
from supportwatch.errors import VersionError
from supportwatch.policy import MaintenancePolicy, MinorWindow, minor_windows
from supportwatch.values import Release
from supportwatch.versions import AgentVersion, ImageTag, RuntimeVersion

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AgentRelease:
    version: AgentVersion
    released_on: date | None
    tags: tuple[ImageTag, ...]
    recommendable: bool
    channel: str = "stable"


@dataclass(frozen=True, slots=True)
class Maintenance:
    """One minor's standing on the catalog's day: its nominal window and when it really ends.

    ``ends_on`` is None while the minor is *open*: it is the newest stable minor and the policy
    keeps the newest minor maintained. Otherwise it is the first unmaintained day: the nominal
    end, or, when a newer release ended the exemption, the later of the nominal end and the
    day that release counts (``superseded_by``, counting from ``counts_on``).
    """

    window: MinorWindow
    ends_on: date | None
    superseded_by: AgentVersion | None = None
    counts_on: date | None = None

    @property
    def open(self) -> bool:
        return self.ends_on is None

    @property
    def extended(self) -> bool:
        """Whether the newest-minor exemption keeps the minor maintained past its nominal end."""
        return self.ends_on is not None and self.ends_on > self.window.end_of_maintenance

    def days_left(self, day: date) -> int | None:
        """Days from ``day`` until the first unmaintained day (None while open)."""
        return None if self.ends_on is None else (self.ends_on - day).days

    def maintained_on(self, day: date) -> bool:
        return self.window.released_on <= day and (self.ends_on is None or day < self.ends_on)


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
    _maintenance: dict[tuple[int, int], Maintenance | None] = field(default_factory=dict)
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
        # beta and other channels have no maintenance window; a yanked release still dates its minor
        dated = [
            (item.version, item.released_on)
            for item in catalog.agents.values()
            if item.released_on and item.channel == "stable"
        ]
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
            self.agents[version] = AgentRelease(
                version, release.released_on, tags, recommendable, release.channel
            )
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
        """The newest recommendable chart that counts (out for the grace period)."""
        if "newest" not in self._charts_memo:
            grace = self.policy.behind_grace_days
            versions = [
                item.version
                for item in self.charts.values()
                if item.recommendable and self._settled(item.released_on, grace)
            ]
            self._charts_memo["newest"] = max(versions) if versions else None
        return self._charts_memo["newest"]

    def newest_chart_admitting(self, rules: Rules, agent: AgentVersion) -> AgentVersion | None:
        """The newest recommendable chart the matrix does not forbid for ``agent``."""
        if agent not in self._newest_chart_for:
            fitting = [
                item.version
                for item in self.charts.values()
                if item.recommendable and chart_admits(rules, item.version, agent) is not False
            ]
            self._newest_chart_for[agent] = max(fitting) if fitting else None
        return self._newest_chart_for[agent]

    def recommendable_agents(self, *, newer_than: AgentVersion | None = None) -> list[AgentVersion]:
        """Recommendable agents (optionally only those newer than a version), newest first."""
        if self._ascending is None:
            self._ascending = sorted(item.version for item in self.agents.values() if item.recommendable)
        start = 0 if newer_than is None else bisect_right(self._ascending, newer_than)
        return self._ascending[start:][::-1]

    def counts_on(self, item: AgentRelease) -> date:
        """The first day ``item`` counts for every rule: out for ``behind_grace_days``."""
        if item.released_on is None:
            return date.min
        return item.released_on + timedelta(days=self.policy.behind_grace_days)

    def maintenance(self, minor: tuple[int, int]) -> Maintenance | None:
        """The minor's maintenance on ``today`` (policy readings 1-3 above); None if unknown."""
        if minor not in self._maintenance:
            self._maintenance[minor] = self._maintenance_of(minor)
        return self._maintenance[minor]

    def _maintenance_of(self, minor: tuple[int, int]) -> Maintenance | None:
        window = self.windows.get(minor)
        if window is None:
            return None
        if not self.policy.latest_minor_supported:
            return Maintenance(window, window.end_of_maintenance)
        newer = [
            item for item in self.agents.values() if item.recommendable and item.version.minor_key > minor
        ]
        if not newer:
            return Maintenance(window, None)
        first = min(newer, key=lambda item: (self.counts_on(item), item.version))
        counts_on = self.counts_on(first)
        return Maintenance(window, max(window.end_of_maintenance, counts_on), first.version, counts_on)

    def open_ended(self, minor: tuple[int, int]) -> bool:
        """Whether the policy keeps ``minor`` maintained with no end yet: the newest stable minor."""
        maintenance = self.maintenance(minor)
        return maintenance is not None and maintenance.open

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The answer for ``key``, computed once per catalog (one catalog is one day's releases)."""
        try:
            return cast(T, self.memo[key])
        except KeyError:
            value = self.memo[key] = compute()
            return value

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
