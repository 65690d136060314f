"""``VendorServer``: the demo's stand-in for the vendor's hosts, on 127.0.0.1.

The standard library's ``ThreadingHTTPServer`` in a daemon thread: the files are a handful of
fixed bytes, so a thread per request is plenty, it starts in milliseconds with no event loop
to share with the service, and it needs no dependency. It listens on an ephemeral port
(bound before ``start`` returns, so there is no race for a "free" port), answers GET and HEAD
with the file's content type, a strong ``ETag`` and ``Last-Modified``, and 304 to a
conditional GET that matches, as the vendor's CDN does; every other path is 404.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from supportwatch.demo.examples import VendorFile

logger = logging.getLogger("supportwatch.demo.vendor")


class _Served:
    """One file as served: its body and the headers that describe it."""

    def __init__(self, file: VendorFile, modified: datetime) -> None:
        self.body = file.body
        self.content_type = file.content_type
        self.etag = '"' + hashlib.sha256(file.body).hexdigest()[:32] + '"'
        self.modified = modified.replace(microsecond=0)
        self.last_modified = format_datetime(self.modified, usegmt=True)

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """RFC 9110 13.1: If-None-Match decides when present (weak comparison), else If-Modified-Since."""
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or self.etag in tags
        if if_modified_since is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return self.modified <= since


class VendorServer:
    """Serves ``files`` on ``http://127.0.0.1:<port>``; use as a context manager or ``close()``.

    The port is chosen by the system when the server is built; ``url`` has it.
    """

    def __init__(self, files: Iterable[VendorFile], *, modified: datetime | None = None) -> None:
        stamp = modified or datetime.now(UTC)
        self._files = {file.path: _Served(file, stamp) for file in files}
        self._httpd = _Server(("127.0.0.1", 0), _handler(self._files))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def url_of(self, path: str) -> str:
        return self.url + path

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="supportwatch-demo-vendor", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # a client that hangs up mid-exchange (a poll that stops reading a 404 resets the
        # connection) ends that connection, not the server: no traceback on the demo's console
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("%s closed the connection", client_address[0])
            return
        super().handle_error(request, client_address)


def _handler(files: dict[str, _Served]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "supportwatch-demo-vendor"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def _answer(self, *, head: bool) -> None:
            path = urlsplit(self.path).path
            served = files.get(path)
            if served is None:
                self._plain(HTTPStatus.NOT_FOUND, f"{path} is not part of the demo's example data\n", head)
                return
            headers = self.headers
            fresh = served.not_modified(headers.get("If-None-Match"), headers.get("If-Modified-Since"))
            self.send_response(HTTPStatus.NOT_MODIFIED if fresh else HTTPStatus.OK)
            self.send_header("ETag", served.etag)
            self.send_header("Last-Modified", served.last_modified)
            self.send_header("Cache-Control", "no-cache")
            if fresh:
                self.end_headers()
                return
            self.send_header("Content-Type", served.content_type)
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            if not head:
                self.wfile.write(served.body)

        def _plain(self, status: HTTPStatus, text: str, head: bool) -> None:
            body = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    return Handler
