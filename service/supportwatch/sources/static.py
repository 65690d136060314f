"""``static``: the releases written in the config file — a source that reads nothing.

Its answer is the config's list, whole (``complete``): an entry taken out of the config
withdraws that source's claim (the release stays stored), and an empty list is meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from supportwatch.config import StaticSource as StaticSettings
from supportwatch.sources.result import SourceResult
from supportwatch.values import Release, SourceState


def static_releases(source: StaticSettings) -> list[Release]:
    """The releases a static source declares."""
    return [
        Release(
            component=item.component,
            version=item.version,
            released_on=item.released_on,
            app_version=item.app_version,
            image_tags=tuple(item.image_tags),
            channel=item.channel,
            yanked=item.yanked,
        )
        for item in source.releases
    ]


@dataclass(frozen=True, slots=True)
class StaticSource:
    """A ``Source`` whose releases are at hand: ``poll`` fetches nothing and never fails."""

    name: str
    releases: tuple[Release, ...]
    url: str | None = None

    @classmethod
    def of(cls, config: StaticSettings) -> StaticSource:
        return cls(config.name, tuple(static_releases(config)))

    def poll(self, state: SourceState, now: datetime) -> SourceResult:
        return SourceResult(None, self.releases, requests=0, complete=True)
