"""The explicit wiring from a config source ``kind`` to the constructor of its source.

``polled`` kinds read over HTTP: each is polled on its own interval (``poll``, the scheduler)
through the one ``Fetcher``. The other kinds have their releases at hand (``static``: in the
config) and are applied before every command (DESIGN §7). The HTTP kinds import their parser
and the fetcher when they are built, so a command that only applies the config's releases
(``check``, a CI gate) never loads the HTTP stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from supportwatch.config import (
    AstroUpdatesSource,
    FeedSource,
    HelmSource,
    SourceSettings,
)
from supportwatch.config import StaticSource as StaticSettings
from supportwatch.sources.result import Parser, Source
from supportwatch.sources.static import StaticSource

if TYPE_CHECKING:
    from supportwatch.sources.http import Fetcher

# builds the fetcher when an HTTP kind first needs it (the HTTP client is created then)
FetcherFactory = Callable[[], "Fetcher"]


def static_source(config: StaticSettings, fetcher: FetcherFactory) -> Source:
    return StaticSource.of(config)


def helm_source(config: HelmSource, fetcher: FetcherFactory) -> Source:
    from supportwatch.sources.helm import parse_helm_index  # noqa: PLC0415 - see the docstring

    return _http(config, fetcher, partial(parse_helm_index, chart=config.chart))


def feed_source(config: FeedSource, fetcher: FetcherFactory) -> Source:
    from supportwatch.sources.feed import parse_feed  # noqa: PLC0415 - see the docstring

    parse = partial(
        parse_feed,
        component=config.component,
        version_pattern=config.version_pattern,
        date_pattern=config.date_pattern,
    )
    return _http(config, fetcher, parse)


def astro_updates_source(config: AstroUpdatesSource, fetcher: FetcherFactory) -> Source:
    from supportwatch.sources.astro_updates import parse_astro_updates  # noqa: PLC0415

    parse = partial(parse_astro_updates, component=config.component, channels=tuple(config.channels))
    return _http(config, fetcher, parse)


def _http(
    config: HelmSource | FeedSource | AstroUpdatesSource, fetcher: FetcherFactory, parse: Parser
) -> Source:
    from supportwatch.sources.http_source import HttpSource  # noqa: PLC0415 - see the docstring

    return HttpSource(
        config.name, config.url, fetcher(), parse, token=config.token, max_bytes=config.max_bytes
    )


@dataclass(frozen=True, slots=True)
class Kind:
    """How to build a source of one config ``kind``, and whether it is polled (see above)."""

    build: Callable[[Any, FetcherFactory], Source]
    polled: bool


KINDS: dict[str, Kind] = {
    "static": Kind(static_source, polled=False),
    "helm": Kind(helm_source, polled=True),
    "feed": Kind(feed_source, polled=True),
    "astro_updates": Kind(astro_updates_source, polled=True),
}


def is_polled(config: SourceSettings) -> bool:
    """Whether sources of ``config``'s kind are polled on an interval (else applied every command)."""
    return KINDS[config.kind].polled


def polled_names(configs: Iterable[SourceSettings]) -> list[str]:
    """The enabled polled sources' names, in config (priority) order; nothing is built."""
    return [config.name for config in configs if config.enabled and is_polled(config)]


def build_sources(
    configs: Iterable[SourceSettings], fetcher: FetcherFactory, *, polled: bool
) -> dict[str, Source]:
    """Every enabled source of a polled (or, ``polled=False``, an applied) kind, by name, in
    config (priority) order. ``fetcher`` is called only if an HTTP kind is built."""
    return {
        config.name: KINDS[config.kind].build(config, fetcher)
        for config in configs
        if config.enabled and is_polled(config) == polled
    }
