"""Helpers for a real HTTP server on 127.0.0.1 whose answers each test scripts per path."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from supportwatch.config import HttpSettings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"

Handler = Callable[[BaseHTTPRequestHandler], None]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Server:
    """Routes are ``path -> handler``; every request is logged as (path, headers)."""

    base: str
    routes: dict[str, Handler] = field(default_factory=dict)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for seen, _ in self.log if seen == path)


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def static(body: bytes, *, etag: str | None = None, last_modified: str | None = None) -> Handler:
    """Serve ``body`` with validators; answer 304 when the client's validators match."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        if etag and handler.headers.get("If-None-Match") == etag:
            reply(handler, 304, headers={"ETag": etag})
            return
        if last_modified and not etag and handler.headers.get("If-Modified-Since") == last_modified:
            reply(handler, 304)
            return
        headers = {"ETag": etag} if etag else {}
        if last_modified:
            headers["Last-Modified"] = last_modified
        if "gzip" in handler.headers.get("Accept-Encoding", ""):
            reply(handler, 200, gzip.compress(body), {**headers, "Content-Encoding": "gzip"})
        else:
            reply(handler, 200, body, headers)

    return handle


def sequence(*handlers: Handler) -> Handler:
    """Answer with each handler in turn, then keep using the last."""
    calls = iter(range(10**6))

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handlers[min(next(calls), len(handlers) - 1)](handler)

    return handle


def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Handler:
    return lambda handler: reply(handler, code, body, headers)


@dataclass
class Sleeps:
    """A recording stand-in for ``time.sleep``: tests never wait for backoff."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def loopback_settings(**overrides: object) -> HttpSettings:
    values: dict[str, object] = {
        "allow_private_networks": True,
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 2,
        "deadline_seconds": 10,
        "retries": 3,
    }
    values.update(overrides)
    return HttpSettings.model_validate(values)
