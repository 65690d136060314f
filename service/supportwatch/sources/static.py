"""The ``static`` source: releases written in the config file — pure."""

from __future__ import annotations

from supportwatch.config import StaticSource
from supportwatch.values import Release


def static_releases(source: StaticSource) -> list[Release]:
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
