"""The polite fetcher against a real HTTP server on 127.0.0.1 (and MockTransport for the guard)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from pydantic import SecretStr

from sources.httpserver import Server, Sleeps, loopback_settings, reply, sequence, static, status
from supportwatch.errors import SourceError
from supportwatch.retry import retry_after
from supportwatch.sources.http import (
    Fetched,
    Fetcher,
    NotModified,
    check_address,
    refused_reason,
)
from supportwatch.sources.http_source import HttpSource
from supportwatch.sources.result import Parsed, SourceGone, Validators
from supportwatch.sources.urls import display, same_origin
from supportwatch.values import SourceState

BODY = b'{"clientVersions": {}}'
NOW = datetime(2026, 7, 22, 10, 0, tzinfo=UTC)


def test_conditional_get_returns_not_modified_in_one_request(fetcher: Fetcher, server: Server) -> None:
    server.routes["/feed"] = static(BODY, etag='"v1"', last_modified="Wed, 22 Jul 2026 10:00:00 GMT")
    first = fetcher.fetch(server.url("/feed"))
    assert isinstance(first, Fetched)
    assert first.body == BODY
    assert first.validators == Validators('"v1"', "Wed, 22 Jul 2026 10:00:00 GMT")
    second = fetcher.fetch(server.url("/feed"), validators=first.validators)
    assert isinstance(second, NotModified)
    assert second.requests == 1
    assert server.log[-1][1]["If-None-Match"] == '"v1"'
    assert server.log[-1][1]["If-Modified-Since"] == "Wed, 22 Jul 2026 10:00:00 GMT"


def test_last_modified_alone_is_sent_back(fetcher: Fetcher, server: Server) -> None:
    server.routes["/feed"] = static(BODY, last_modified="Wed, 22 Jul 2026 10:00:00 GMT")
    first = fetcher.fetch(server.url("/feed"))
    assert isinstance(first, Fetched)
    assert isinstance(fetcher.fetch(server.url("/feed"), validators=first.validators), NotModified)


def test_gzip_is_accepted_and_decoded(fetcher: Fetcher, server: Server) -> None:
    server.routes["/feed"] = static(BODY * 100)
    answer = fetcher.fetch(server.url("/feed"))
    assert isinstance(answer, Fetched)
    assert answer.body == BODY * 100
    assert "gzip" in server.log[0][1]["Accept-Encoding"]


def test_500_then_200_is_retried_with_backoff(fetcher: Fetcher, server: Server, sleeps: Sleeps) -> None:
    server.routes["/feed"] = sequence(status(500), status(503), static(BODY))
    answer = fetcher.fetch(server.url("/feed"))
    assert isinstance(answer, Fetched)
    assert answer.requests == 3
    assert len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 1.0
    assert 1.0 <= sleeps.calls[1] <= 2.0


def test_429_retry_after_is_honoured(fetcher: Fetcher, server: Server, sleeps: Sleeps) -> None:
    server.routes["/feed"] = sequence(status(429, {"Retry-After": "7"}), static(BODY))
    assert isinstance(fetcher.fetch(server.url("/feed")), Fetched)
    assert sleeps.calls == [7.0]


def test_retry_after_past_the_deadline_gives_up(fetcher: Fetcher, server: Server, sleeps: Sleeps) -> None:
    server.routes["/feed"] = status(503, {"Retry-After": "3600"})
    with pytest.raises(SourceError, match="deadline"):
        fetcher.fetch(server.url("/feed"))
    assert sleeps.calls == []


def test_retries_are_bounded(fetcher: Fetcher, server: Server, sleeps: Sleeps) -> None:
    server.routes["/feed"] = status(502)
    with pytest.raises(SourceError, match=r"HTTP 502 \(gave up after 4 attempts\)"):
        fetcher.fetch(server.url("/feed"))
    assert server.hits("/feed") == 4
    assert len(sleeps.calls) == 3


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 7, 22, 10, 0, tzinfo=UTC)
    assert retry_after("Wed, 22 Jul 2026 10:00:30 GMT", now) == 30.0
    assert retry_after("soon", now) is None


@pytest.mark.parametrize("value", ["-5", "1e9", "\u00b2", "1.5", "", "Mon, 01 Jan 99999999999 00:00:00 GMT"])
def test_a_bad_retry_after_falls_back_to_backoff(value: str) -> None:
    # "²".isdigit() is True but float("²") raised ValueError out of the fetcher
    assert retry_after(value, datetime(2026, 7, 22, 10, 0, tzinfo=UTC)) is None


def test_a_superscript_retry_after_header_is_retried_with_backoff(
    fetcher: Fetcher, server: Server, sleeps: Sleeps
) -> None:
    def superscript(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(503)
        handler.send_header("Retry-After", "\u00b2")  # sent as the latin-1 byte 0xb2
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server.routes["/feed"] = sequence(superscript, static(BODY))
    answer = fetcher.fetch(server.url("/feed"))
    assert isinstance(answer, Fetched)
    assert len(sleeps.calls) == 1


def test_404_is_not_retried(fetcher: Fetcher, server: Server) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        fetcher.fetch(server.url("/missing"))
    assert server.hits("/missing") == 1


def test_301_moves_the_url_302_does_not(fetcher: Fetcher, server: Server) -> None:
    server.routes["/old"] = status(301, {"Location": "/new"})
    server.routes["/temp"] = status(302, {"Location": "/new"})
    server.routes["/new"] = static(BODY)
    moved = fetcher.fetch(server.url("/old"))
    assert isinstance(moved, Fetched)
    assert moved.url == server.url("/new")
    temporary = fetcher.fetch(server.url("/temp"))
    assert isinstance(temporary, Fetched)
    assert temporary.url == server.url("/temp")


def test_410_raises_gone(fetcher: Fetcher, server: Server) -> None:
    server.routes["/feed"] = status(410)
    with pytest.raises(SourceGone, match="410"):
        fetcher.fetch(server.url("/feed"))


def _drip(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100")
    handler.end_headers()
    for _ in range(100):
        try:
            handler.wfile.write(b"x")
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(1)


def test_a_dripping_server_is_cut_off_by_the_deadline(client: httpx.Client, server: Server) -> None:
    server.routes["/drip"] = _drip
    fetcher = Fetcher(client, loopback_settings(deadline_seconds=2.5, retries=0), sleep=Sleeps())
    started = time.monotonic()
    with pytest.raises(SourceError, match="deadline"):
        fetcher.fetch(server.url("/drip"))
    assert time.monotonic() - started < 5


def _chunked(size: int) -> object:
    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"y" * 65536
        try:
            for _ in range(size // len(chunk)):
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            return

    return handle


def test_an_oversized_body_hits_the_cap(fetcher: Fetcher, server: Server) -> None:
    server.routes["/big"] = status(200, body=b"z" * 5000)
    server.routes["/stream"] = _chunked(4 * 1024 * 1024)  # type: ignore[assignment]
    with pytest.raises(SourceError, match="larger than 4096 bytes"):
        fetcher.fetch(server.url("/big"), max_bytes=4096)
    with pytest.raises(SourceError, match="larger than 1048576 bytes"):
        fetcher.fetch(server.url("/stream"), max_bytes=1024 * 1024)


def test_token_is_sent_but_never_shown(fetcher: Fetcher, server: Server) -> None:
    secret = "tok-very-secret-123"
    server.routes["/private"] = status(403)
    with pytest.raises(SourceError) as info:
        fetcher.fetch(server.url("/private?key=" + secret), token=SecretStr(secret))
    assert server.log[0][1]["Authorization"] == f"Bearer {secret}"
    assert secret not in str(info.value)


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("0.0.0.0", "private"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
    ],
)
def test_the_guard_refuses_non_public_ranges(address: str, label: str) -> None:
    reason = refused_reason(address)
    assert reason is not None
    assert reason.startswith(label)
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(SourceError, match="refused"):
        check_address(httpx.URL(f"http://{host}/index.yaml"), allow_private=False, resolve=lambda h, p: [h])


def test_the_guard_allows_public_addresses() -> None:
    assert refused_reason("93.184.216.34") is None
    assert refused_reason("2606:4700::1111") is None
    assert refused_reason("2002:5db8:d822::") is None  # 6to4 of a public address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:7f00:1::", "6to4-wrapped loopback address 127.0.0.1"),
        ("2002:a00:1::", "6to4-wrapped private address 10.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "NAT64-wrapped link-local address 169.254.169.254"),
        ("::ffff:192.168.1.1", "IPv4-mapped private address 192.168.1.1"),
    ],
)
def test_the_guard_sees_through_ipv6_forms_of_ipv4(address: str, reason: str) -> None:
    assert refused_reason(address) == reason


def test_the_guard_checks_what_a_name_resolves_to() -> None:
    with pytest.raises(SourceError, match=r"'metadata.internal' resolves to a link-local"):
        check_address(
            httpx.URL("http://metadata.internal/latest"),
            allow_private=False,
            resolve=lambda host, port: ["93.184.216.34", "169.254.169.254"],
        )


def test_the_guard_refuses_the_loopback_server_itself(client: httpx.Client, server: Server) -> None:
    server.routes["/feed"] = static(BODY)
    fetcher = Fetcher(client, loopback_settings(allow_private_networks=False), sleep=Sleeps())
    with pytest.raises(SourceError, match="loopback"):
        fetcher.fetch(server.url("/feed"))
    assert server.log == []


def test_the_guard_checks_every_redirect_hop() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "releases.example.test":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1:8080/admin"})
        return httpx.Response(200, content=b"should never be fetched")

    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"] if host == "releases.example.test" else [host]

    with httpx.Client(transport=httpx.MockTransport(handler)) as mock:
        fetcher = Fetcher(
            mock, loopback_settings(allow_private_networks=False), resolve=resolve, sleep=Sleeps()
        )
        with pytest.raises(SourceError, match=r"127\.0\.0\.1:8080/admin: refused"):
            fetcher.fetch("http://releases.example.test/index.yaml")
    assert seen == ["http://releases.example.test/index.yaml"]


def test_token_is_not_forwarded_to_another_host() -> None:
    headers: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        if request.url.host == "a.example.test":
            return httpx.Response(301, headers={"Location": "https://b.example.test/feed"})
        return httpx.Response(200, content=BODY)

    with httpx.Client(transport=httpx.MockTransport(handler)) as mock:
        fetcher = Fetcher(
            mock, loopback_settings(allow_private_networks=False), resolve=lambda h, p: ["93.184.216.34"]
        )
        answer = fetcher.fetch("https://a.example.test/feed", token=SecretStr("s3cret"))
    assert isinstance(answer, Fetched)
    assert answer.url == "https://b.example.test/feed"
    assert "authorization" in headers[0]
    assert "authorization" not in headers[1]


def test_a_moved_source_does_not_get_the_token_on_later_polls() -> None:
    # the 301 moves the stored url to another host; the next poll starts there, and must
    # not hand that host the token meant for the configured one
    headers: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        if request.url.host == "a.example.test":
            return httpx.Response(301, headers={"Location": "https://b.example.test/feed"})
        return httpx.Response(200, content=BODY)

    with httpx.Client(transport=httpx.MockTransport(handler)) as mock:
        fetcher = Fetcher(
            mock, loopback_settings(allow_private_networks=False), resolve=lambda h, p: ["93.184.216.34"]
        )
        source = HttpSource(
            "agent", "https://a.example.test/feed", fetcher, lambda body: Parsed(()), token=SecretStr("s3")
        )
        state = SourceState(name="agent", configured_url=source.url, url=source.url)
        first = source.poll(state, NOW)
        assert first.url == "https://b.example.test/feed"
        source.poll(replace(state, url=first.url), NOW)
    assert [("authorization" in item) for item in headers] == [True, False, False]


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_host_name_that_cannot_be_encoded_is_an_error_not_a_crash(
    client: httpx.Client, allow_private: bool
) -> None:
    # an empty or 64+ character label fails IDNA encoding with UnicodeError (not OSError),
    # in the guard's resolver or in the connect; a redirect can hand the fetcher such a host
    fetcher = Fetcher(client, loopback_settings(allow_private_networks=allow_private), sleep=Sleeps())
    for url in ("http://releases..example.test/index.yaml", f"http://{'x' * 64}.example.test/"):
        with pytest.raises(SourceError, match="not a valid host name; fix the source url"):
            fetcher.fetch(url)


def test_a_malformed_url_is_an_error_not_a_crash(fetcher: Fetcher) -> None:
    with pytest.raises(SourceError, match=r"'http://\[::1' is not a valid URL; fix the source url"):
        fetcher.fetch("http://[::1")
    with pytest.raises(SourceError, match="is not a valid URL") as info:
        fetcher.fetch("http://user:s3cret@[::1/feed?key=s3cret")
    assert "s3cret" not in str(info.value)
    assert "'http://[::1/feed'" in str(info.value)


def test_too_many_redirects(fetcher: Fetcher, server: Server) -> None:
    server.routes["/loop"] = status(302, {"Location": "/loop"})
    with pytest.raises(SourceError, match="redirects"):
        fetcher.fetch(server.url("/loop"))


def test_connection_refused_is_retried_then_fails(client: httpx.Client, sleeps: Sleeps) -> None:
    fetcher = Fetcher(client, loopback_settings(retries=2), sleep=sleeps)
    with pytest.raises(SourceError, match="ConnectError"):
        fetcher.fetch("http://127.0.0.1:9/feed")
    assert len(sleeps.calls) == 2


def test_reply_helper_sanity(server: Server) -> None:
    server.routes["/x"] = lambda handler: reply(handler, 200, b"ok")
    with httpx.Client() as http:
        assert http.get(server.url("/x")).text == "ok"


def test_a_retry_after_date_is_measured_from_the_fetch_s_now(
    fetcher: Fetcher, server: Server, sleeps: Sleeps
) -> None:
    server.routes["/feed"] = sequence(
        status(429, {"Retry-After": "Wed, 22 Jul 2026 10:00:05 GMT"}), static(BODY)
    )
    assert isinstance(fetcher.fetch(server.url("/feed"), now=NOW), Fetched)
    [slept] = sleeps.calls
    assert 4.0 < slept <= 5.0  # the fetcher reads no wall clock: NOW plus the time taken


def test_without_a_now_a_retry_after_date_backs_off(fetcher: Fetcher, server: Server, sleeps: Sleeps) -> None:
    server.routes["/feed"] = sequence(
        status(429, {"Retry-After": "Wed, 22 Jul 2026 10:00:30 GMT"}), static(BODY)
    )
    assert isinstance(fetcher.fetch(server.url("/feed")), Fetched)
    [slept] = sleeps.calls
    assert 0.5 <= slept <= 1.0  # the first backoff step, with jitter


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://reader:pw@charts.example.com/index.yaml?token=t#x",
            "https://charts.example.com/index.yaml",
        ),
        ("http://EXAMPLE.com:80/a%20b", "http://example.com/a b"),
        ("https://xn--bcher-kva.example:8443/feed", "https://bücher.example:8443/feed"),
        ("http://[::1]:8080/x?k=s", "http://::1:8080/x"),
        ("http://h", "http://h/"),
        ("http://user:s3cret@[::1/feed?key=s3cret", "http://[::1/feed"),
    ],
)
def test_display_drops_credentials_query_and_fragment(url: str, shown: str) -> None:
    assert display(url) == shown


def test_a_token_goes_to_its_own_origin_only() -> None:
    assert same_origin("https://a.example/feed", "https://A.example:443/other")
    assert not same_origin("https://a.example/feed", "http://a.example/feed")
    assert not same_origin("https://a.example/feed", "https://a.example:8443/feed")
    assert not same_origin("https://a.example/feed", "https://b.example/feed")
    assert not same_origin("http://[::1/feed", "http://[::1/feed")
