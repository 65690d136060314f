"""The explicit wiring from a config source ``kind`` to the constructor of its source.

``static`` sources are not polled: the service applies them on every command.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from supportwatch.config import AstroUpdatesSource, FeedSource, HelmSource, SourceSettings, StaticSource
from supportwatch.sources.astro_updates import parse_astro_updates
from supportwatch.sources.base import HttpSource, Parsed, Source
from supportwatch.sources.feed import parse_feed
from supportwatch.sources.helm import parse_helm_index
from supportwatch.sources.http import Fetcher


def helm_source(config: HelmSource, fetcher: Fetcher) -> Source:
    return _http(config, fetcher, partial(parse_helm_index, chart=config.chart))


def feed_source(config: FeedSource, fetcher: Fetcher) -> Source:
    parse = partial(
        parse_feed,
        component=config.component,
        version_pattern=config.version_pattern,
        date_pattern=config.date_pattern,
    )
    return _http(config, fetcher, parse)


def astro_updates_source(config: AstroUpdatesSource, fetcher: Fetcher) -> Source:
    parse = partial(parse_astro_updates, component=config.component, channels=tuple(config.channels))
    return _http(config, fetcher, parse)


def _http(
    config: HelmSource | FeedSource | AstroUpdatesSource, fetcher: Fetcher, parse: Callable[[bytes], Parsed]
) -> Source:
    return HttpSource(config.name, config.url, fetcher, parse, token=config.token, max_bytes=config.max_bytes)


KINDS: dict[str, Callable[..., Source]] = {
    "helm": helm_source,
    "feed": feed_source,
    "astro_updates": astro_updates_source,
}


def build_sources(configs: list[SourceSettings], fetcher: Fetcher) -> dict[str, Source]:
    """Every enabled polled source, by name, in config (priority) order."""
    return {
        config.name: KINDS[config.kind](config, fetcher)
        for config in configs
        if config.enabled and not isinstance(config, StaticSource)
    }
