"""``HttpSource``: a source fetched over HTTP(S) by the ``Fetcher`` and read by a pure parser.

``poll`` turns every failure of its fetch or parse into a ``SourceError`` (a parser's bug
included), so one source can never stop the poll of the others, and passes the answer through
``accept`` as of the poll's ``now``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr

from supportwatch.errors import SourceError
from supportwatch.sources.http import Fetcher, NotModified
from supportwatch.sources.result import Parser, SourceResult, Validators, accept
from supportwatch.sources.urls import display, same_origin
from supportwatch.values import URL_MAX, SourceState, clean_text

logger = logging.getLogger("supportwatch.sources")


@dataclass
class HttpSource:
    """A source fetched over HTTP(S) and read by ``parse`` (a pure ``bytes -> Parsed``)."""

    name: str
    url: str
    fetcher: Fetcher
    parse: Parser
    token: SecretStr | None = None
    max_bytes: int | None = None

    def poll(self, state: SourceState, now: datetime) -> SourceResult:
        url = state.url or self.url
        if len(url) > URL_MAX:
            raise SourceError(
                f"source {self.name!r}: its url is {len(url)} characters, longer than the {URL_MAX} "
                "that can be stored; shorten it"
            )
        try:
            result = self._fetch(state, url, now)
        except SourceError as exc:
            raise _cleaned(exc) from None
        except Exception as exc:  # a parser's bug must not stop the poll of the other sources
            logger.exception("source %r: reading its answer failed", self.name)
            raise SourceError(
                f"source {self.name!r} ({display(url)}): reading the answer failed "
                f"({type(exc).__name__}); kept the last good data"
            ) from exc
        accepted = accept(result, now=now, fetched_from=url)
        if accepted.note:
            logger.warning("source %r: %s", self.name, accepted.note)
        return accepted

    def _fetch(self, state: SourceState, url: str, now: datetime) -> SourceResult:
        # a 301 may have moved the stored url to another host: the token stays with the
        # configured url's origin until the operator writes the new url into the config
        answer = self.fetcher.fetch(
            url,
            validators=Validators(state.etag, state.last_modified),
            max_bytes=self.max_bytes,
            token=self.token if same_origin(url, self.url) else None,
            now=now,
        )
        if isinstance(answer, NotModified):
            return SourceResult(answer.url, None, requests=answer.requests)
        parsed = self.parse(answer.body)
        return SourceResult(answer.url, parsed.releases, parsed.skipped, answer.validators, answer.requests)


def _cleaned(exc: SourceError) -> SourceError:
    """``exc`` with a message fit for a terminal (a server's or document's text can be in it)."""
    text = str(exc)
    clean = clean_text(text)
    if clean == text:
        return exc
    try:
        return type(exc)(clean)
    except TypeError:
        return SourceError(clean)
