"""Fixtures: a real HTTP server on 127.0.0.1, a loopback-allowed fetcher, a recording sleep."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sources.httpserver import Server, Sleeps, loopback_settings, reply
from supportwatch.sources.http import Fetcher


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(base="")

    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.log.append((self.path, dict(self.headers.items())))
            route = state.routes.get(self.path)
            if route is None:
                reply(self, 404, b"no such path")
            else:
                route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, trust_env=False) as http:
        yield http


@pytest.fixture
def fetcher(client: httpx.Client, sleeps: Sleeps) -> Fetcher:
    return Fetcher(client, loopback_settings(), sleep=sleeps)
