"""The ``Source`` protocol, what a poll returns, and the one HTTP-backed source.

A source is a name and one method, ``poll(state)``. Fetching goes through ``Fetcher``; the
bytes go to a pure parser (``feed``, ``helm``, ``astro_updates``) that returns ``Parsed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import SecretStr

from supportwatch.errors import SourceRejected
from supportwatch.models import Release, SourceState
from supportwatch.sources.http import Fetcher, NotModified, Validators, display, same_origin


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parser's answer: the releases, and how many entries it skipped as unreadable."""

    releases: tuple[Release, ...]
    skipped: int = 0


def add_earliest(found: dict[str, Release], release: Release) -> None:
    """Add ``release`` to ``found`` (by version); a version listed twice keeps its earliest date.

    A version is released once: a later duplicate is a re-publication, and the answer must
    not depend on the order the source lists its entries in.
    """
    known = found.get(release.version)
    if known is None or (
        release.released_on is not None
        and (known.released_on is None or release.released_on < known.released_on)
    ):
        found[release.version] = release


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One poll's result. ``releases`` is None when the server said 304 Not Modified."""

    url: str
    releases: tuple[Release, ...] | None
    skipped: int = 0
    validators: Validators = field(default_factory=Validators)
    requests: int = 1

    @property
    def not_modified(self) -> bool:
        return self.releases is None


class Source(Protocol):
    """A release source. ``poll`` raises ``SourceError`` (or a subclass) when it fails."""

    name: str
    url: str

    def poll(self, state: SourceState) -> SourceResult:
        """Fetch (conditionally, using ``state``'s URL and validators) and parse."""
        ...


Parser = Callable[[bytes], Parsed]


@dataclass
class HttpSource:
    """A source fetched over HTTP(S) and read by ``parse`` (a pure ``bytes -> Parsed``)."""

    name: str
    url: str
    fetcher: Fetcher
    parse: Parser
    token: SecretStr | None = None
    max_bytes: int | None = None

    def poll(self, state: SourceState) -> SourceResult:
        url = state.url or self.url
        # a 301 may have moved the stored url to another host: the token stays with the
        # configured url's origin until the operator writes the new url into the config
        answer = self.fetcher.fetch(
            url,
            validators=Validators(state.etag, state.last_modified),
            max_bytes=self.max_bytes,
            token=self.token if same_origin(url, self.url) else None,
        )
        if isinstance(answer, NotModified):
            return SourceResult(answer.url, None, requests=answer.requests)
        parsed = self.parse(answer.body)
        return SourceResult(answer.url, parsed.releases, parsed.skipped, answer.validators, answer.requests)


def check_plausible(name: str, url: str, result: SourceResult, previous_count: int) -> None:
    """Reject an answer that is empty or lost more than half of what the source listed last time."""
    count = len(result.releases or ())
    if count == 0:
        raise SourceRejected(
            f"source {name!r} ({display(url)}) answered no releases"
            + (f" ({result.skipped} entries had no readable version)" if result.skipped else "")
            + "; kept the last good data. Check its url, kind and version_pattern"
        )
    if count * 2 < previous_count:
        raise SourceRejected(
            f"source {name!r} ({display(url)}) lists {count} versions, down from {previous_count} last time; "
            "an answer that lost more than half is rejected and the last good data kept; if the source "
            f"really dropped them, accept it once with `supportwatch poll --source {name} --accept-shrink`"
        )
