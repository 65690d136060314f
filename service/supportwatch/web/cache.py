"""The response cache: the read routes' encoded answers, served again while what they depend on
holds, so a repeat request costs the same for 10 or 10,000 deployments.

``ROUTES`` lists each cached route (its template), the query parameters it reads and what its
answer depends on besides them and its path: always the store (``Service.revision``: releases, the sources'
claims and states), the day in the configured time zone and the config (fixed for the app's
life); some also on data health (which time alone changes: ``Service.data_health`` says until
when it holds), on the delivery log (``Service.delivery_revision``) or on the request's origin
(absolute links built from the Host header). Every request probes the revisions (one query of
aggregates each: tens of microseconds on SQLite, on the event loop; PostgreSQL's on a worker
thread, so a slow network never stalls the loop), so every replica serves a poll's result at
once.

An entry holds the complete body and its strong ETag (a hash of the body); ``If-None-Match``
is answered 304 here, for every cached route. Only complete 200 answers without cookies are
kept, one per route and parameters (a newer one replaces it), at most ``MAX_ENTRIES`` and
``MAX_BYTES`` in all (least recently used out first): odd paths or queries cannot grow it.

The layer sits inside the access check (a hit goes only to whom the route would answer) and
outside the routes: a database failure while probing is the same 503 a route would give. A
request is matched against the templates here; an answer is kept only when the router gave it
to that very route and the route reads no query parameter the table does not list, so a hit
is always the answer the route would give.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supportwatch.web.auth import route_path
from supportwatch.web.state import WebState
from supportwatch.web.unavailable import database_errors, database_unavailable

MAX_ENTRIES = 512
MAX_BYTES = 256 * 1024 * 1024
# routes answer without a Cache-Control of their own: clients may keep the answer, but ask again
REVALIDATE = b"no-cache"


@dataclass(frozen=True, slots=True)
class Needs:
    """What a cached route's answer depends on beyond its path, the store, the day and the config."""

    query: tuple[str, ...] = ()  # the query parameters it reads
    health: bool = False  # data health: time alone can change it
    deliveries: bool = False  # the delivery log (dead letters)
    origin: bool = False  # the request's scheme and Host (absolute links)


ROUTES: Mapping[str, Needs] = {
    "/": Needs(query=("team",), health=True, deliveries=True, origin=True),
    "/api/v1/deployments": Needs(query=("team",), health=True),
    "/api/v1/deployments/{name}": Needs(),
    "/api/v1/releases": Needs(query=("component",)),
    "/calendar.ics": Needs(),
    "/calendar/{team}.ics": Needs(),
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One kept answer: what it was rendered from, the span of time it holds, headers, body."""

    basis: tuple[object, ...]  # the revisions and the day it was rendered from
    since: datetime  # rendered at: data health holds from here...
    until: datetime | None  # ...to here (None: while the basis holds)
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes

    def holds(self, basis: tuple[object, ...], now: datetime, *, timed: bool) -> bool:
        """Whether this answer is still the route's answer for ``basis`` at ``now``."""
        if basis != self.basis:
            return False
        return not timed or (self.since <= now and (self.until is None or now <= self.until))


class ResponseCache:
    """Kept answers by (route, parameters): bounded in count and bytes, least recently used out.

    Used from the event loop only, so it needs no lock.
    """

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[object, ...], Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[object, ...]) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[object, ...], entry: Entry) -> None:
        """Keep ``entry`` for ``key`` (replacing the one there), then evict down to the bounds."""
        if len(entry.body) > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._entries[key] = entry
        self._bytes += len(entry.body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.body)


@dataclass(frozen=True, slots=True)
class Cached:
    """A cached route's template, its pattern and what its answer needs."""

    template: str
    pattern: re.Pattern[str]
    needs: Needs


CACHED = tuple(Cached(template, compile_path(template)[0], needs) for template, needs in ROUTES.items())


class CacheMiddleware:
    """Serves the routes of ``ROUTES`` from a ``ResponseCache`` (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, state: WebState, cache: ResponseCache | None = None) -> None:
        self.app = app
        self.state = state
        self.cache = cache if cache is not None else ResponseCache()
        self._probe_inline = state.local_database
        # each template's route as the router chose it (for the request counter's label on a hit)
        self._routes: dict[str, APIRoute | Template] = {
            cached.template: Template(cached.template) for cached in CACHED
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cached = _cached(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        key = _key(cached, scope) if cached is not None else None
        if cached is None or key is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self._routes[cached.template]  # the request counter's label and the log's
        now = self.state.clock()
        try:
            basis = await self._probe(self._basis, cached.needs, now)
        except database_errors() as exc:
            await database_unavailable(Request(scope), exc)(scope, receive, send)
            return
        entry = self.cache.get(key)
        if entry is not None and entry.holds(basis, now, timed=cached.needs.health):
            await _answer(entry, scope["headers"], send)
            return
        until: datetime | None = None
        if cached.needs.health:
            try:
                until = (await run_in_threadpool(self.state.data_health, now))[1]
            except database_errors() as exc:
                await database_unavailable(Request(scope), exc)(scope, receive, send)
                return
        await self._render(scope, receive, send, cached, Pending(key, basis, now, until))

    async def _probe(self, probe: Callable[[Needs, datetime], tuple[object, ...]], *args: Any) -> Any:
        if self._probe_inline:
            return probe(*args)
        return await run_in_threadpool(probe, *args)

    def _basis(self, needs: Needs, now: datetime) -> tuple[object, ...]:
        """What a kept answer must have been rendered from to be served now."""
        basis: tuple[object, ...] = (self.state.service.revision(), self.state.day(now))
        if needs.deliveries:
            basis += (self.state.service.delivery_revision(),)
        return basis

    def _keeps(self, scope: Scope, cached: Cached) -> bool:
        """Whether the router gave the request to the template's route, and that route reads no
        query parameter the table leaves out (else its answer is passed on, not kept)."""
        route = scope.get("route")
        if not isinstance(route, APIRoute) or route.path != cached.template:
            return False
        self._routes[cached.template] = route
        return {param.alias for param in route.dependant.query_params} <= set(cached.needs.query)

    async def _render(
        self, scope: Scope, receive: Receive, send: Send, cached: Cached, pending: Pending
    ) -> None:
        """Let the route answer; keep a complete 200 (and answer it, or 304) — else pass it on."""
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False
        # the route renders the full answer: revalidation is answered here, from its ETag
        asked = list(scope["headers"])
        scope["headers"] = [(name, value) for name, value in asked if name.lower() != b"if-none-match"]

        async def capture(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
            elif message["type"] == "http.response.start":
                start = message
                headers = [bytes(name).lower() for name, _ in message.get("headers", [])]
                if message["status"] != 200 or b"set-cookie" in headers or not self._keeps(scope, cached):
                    passing = True
                    await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    assert start is not None
                    entry = _entry(start, b"".join(chunks), pending)
                    self.cache.put(pending.key, entry)
                    await _answer(entry, asked, send)

        await self.app(scope, receive, capture)


@dataclass(frozen=True, slots=True)
class Template:
    """A cached route's template where the router has not chosen its route yet: what the request
    counter and the 503 log line read of a route."""

    path: str


@dataclass(frozen=True, slots=True)
class Pending:
    """An answer being rendered: its key and what it is rendered from."""

    key: tuple[object, ...]
    basis: tuple[object, ...]
    now: datetime
    until: datetime | None


def _cached(scope: Scope) -> Cached | None:
    path = route_path(scope)
    return next((cached for cached in CACHED if cached.pattern.match(path)), None)


def _key(cached: Cached, scope: Scope) -> tuple[object, ...] | None:
    """The route, its path and the query values it reads (None when one is given twice: not
    kept), and the origin where the answer holds absolute links."""
    query = cached.needs.query
    values: dict[str, list[str]] = {}
    if query:
        pairs = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)
        for name, value in pairs:
            if name in query:
                values.setdefault(name, []).append(value)
    if any(len(given) > 1 for given in values.values()):
        return None
    key: tuple[object, ...] = (
        cached.template,
        route_path(scope),
        tuple(values.get(name, [None])[0] for name in query),
    )
    if cached.needs.origin:
        key += (scope.get("scheme"), _header(scope["headers"], b"host"))
    return key


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _entry(start: Message, body: bytes, pending: Pending) -> Entry:
    etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
    given = [(bytes(k).lower(), bytes(v)) for k, v in start.get("headers", [])]
    headers = [(k, v) for k, v in given if k != b"etag"]
    if not any(k == b"cache-control" for k, _ in headers):
        headers.append((b"cache-control", REVALIDATE))
    headers.append((b"etag", etag))
    return Entry(pending.basis, pending.now, pending.until, tuple(headers), body, etag)


async def _answer(entry: Entry, headers: Sequence[tuple[bytes, bytes]], send: Send) -> None:
    """``entry`` as the answer, or 304 when the request's ``headers`` name its ETag."""
    if matches(_header(headers, b"if-none-match"), entry.etag):
        kept = [(k, v) for k, v in entry.headers if k in (b"etag", b"cache-control")]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
    await send({"type": "http.response.body", "body": entry.body})


def matches(header: bytes | None, etag: bytes) -> bool:
    """RFC 9110 weak comparison: ``*`` or any listed tag equal to ours, ``W/`` ignored."""
    if not header:
        return False
    tags = [item.strip().removeprefix(b"W/") for item in header.split(b",")]
    return b"*" in tags or etag in tags
