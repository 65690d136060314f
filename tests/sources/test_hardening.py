"""Hardening of the sources: the address guard and its pinned connection, what a source may store.

Every connection these tests make goes to 127.0.0.1: the "public" addresses the stub
resolvers answer are refused by a recording network backend before any packet leaves.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import httpcore
import httpx
import httpx._transports.default as httpx_default
import pytest
import trustme
from sqlalchemy import Engine, select

from sources.httpserver import Server, Sleeps, fixture_bytes, loopback_settings, reply, static, status
from supportwatch.config import HttpSettings, Settings
from supportwatch.errors import SourceError
from supportwatch.service import Service
from supportwatch.sources.astro_updates import parse_astro_updates
from supportwatch.sources.feed import parse_feed
from supportwatch.sources.helm import parse_helm_index
from supportwatch.sources.http import (
    Fetched,
    Fetcher,
    PinnedTransport,
    address_refusal,
    check_address,
    make_client,
)
from supportwatch.sources.http_source import HttpSource
from supportwatch.sources.result import Parsed, accept
from supportwatch.store import Store
from supportwatch.tables import observation_table, release_table, source_state_table
from supportwatch.values import SourceState

PUBLIC = "93.184.216.34"  # never connected to: the recording backend refuses it
T0 = datetime(2026, 7, 23, 8, tzinfo=UTC)
CHART = "astro-remote-execution-agent"


# --- a network backend that records every connect and never leaves loopback -----------------


@dataclass
class RecordingBackend(httpcore.NetworkBackend):
    """Records each (host, port) asked for; connects to loopback addresses only, refuses the rest."""

    connects: list[tuple[str, int]] = field(default_factory=list)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        try:
            loopback = ip_address(host).is_loopback
        except ValueError:  # a name: the pinned backend must never hand one over
            loopback = False
        if not loopback:
            raise httpcore.ConnectError(f"test backend: refused to connect to {host}")
        return httpcore.SyncBackend().connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )


@dataclass
class Rebinding:
    """A name that answers ``first`` to the first lookup and ``then`` to every later one."""

    first: list[str]
    then: list[str]
    calls: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.first if len(self.calls) == 1 else self.then


@pytest.fixture
def system_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names given to the system resolver; a name ending in ``.test`` would get 127.0.0.1 there."""
    names: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            names.append(host)
            return real("127.0.0.1", port, *args, **kwargs)  # the rebinding's second answer
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def _port(server: Server) -> int:
    return int(server.base.rsplit(":", 1)[1])


# --- 1. DNS rebinding: the connection goes to the address the guard vetted -------------------


def test_a_rebinding_name_is_connected_at_the_vetted_public_address_only(
    server: Server, system_lookups: list[str]
) -> None:
    server.routes["/secret"] = static(b"loopback-only data")
    port = _port(server)
    backend = RecordingBackend()
    resolver = Rebinding(first=[PUBLIC], then=["127.0.0.1"])
    settings = loopback_settings(allow_private_networks=False, retries=0)
    with make_client(settings, network_backend=backend) as client:
        fetcher = Fetcher(client, settings, resolve=resolver, sleep=Sleeps())
        with pytest.raises(SourceError, match="ConnectError"):
            fetcher.fetch(f"http://rebind.example.test:{port}/secret")
    assert backend.connects == [(PUBLIC, port)]  # the vetted address, never the name
    assert resolver.calls == ["rebind.example.test"]  # resolved once, by the guard
    assert system_lookups == []  # nothing resolved the name again
    assert server.log == []


def test_a_retry_resolves_again_and_the_guard_refuses_the_rebound_address(
    server: Server, system_lookups: list[str]
) -> None:
    port = _port(server)
    backend = RecordingBackend()
    resolver = Rebinding(first=[PUBLIC], then=["127.0.0.1"])
    settings = loopback_settings(allow_private_networks=False, retries=1)
    with make_client(settings, network_backend=backend) as client:
        fetcher = Fetcher(client, settings, resolve=resolver, sleep=Sleeps())
        with pytest.raises(SourceError, match=r"refused, 'rebind\.example\.test' resolves to a loopback"):
            fetcher.fetch(f"http://rebind.example.test:{port}/secret")
    assert backend.connects == [(PUBLIC, port)]
    assert system_lookups == []
    assert server.log == []


def test_every_redirect_hop_is_pinned_to_its_own_vetted_address(
    server: Server, system_lookups: list[str]
) -> None:
    port = _port(server)
    server.routes["/start"] = status(302, {"Location": f"http://rebind.example.test:{port}/secret"})
    server.routes["/secret"] = static(b"loopback-only data")
    backend = RecordingBackend()

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "feeds.example.test" else [PUBLIC]

    settings = loopback_settings(allow_networks=["127.0.0.0/8"], allow_private_networks=False, retries=0)
    with make_client(settings, network_backend=backend) as client:
        fetcher = Fetcher(client, settings, resolve=resolve, sleep=Sleeps())
        with pytest.raises(SourceError, match="ConnectError"):
            fetcher.fetch(f"http://feeds.example.test:{port}/start")
    assert backend.connects == [("127.0.0.1", port), (PUBLIC, port)]
    assert [path for path, _ in server.log] == ["/start"]
    assert system_lookups == []


@pytest.mark.parametrize(
    "http",
    [{"allow_private_networks": True}, {"allow_private_networks": False, "allow_networks": ["127.0.0.0/8"]}],
)
def test_a_loopback_server_still_answers_through_the_pinned_transport(
    server: Server, system_lookups: list[str], http: dict[str, Any]
) -> None:
    server.routes["/feed"] = static(b'{"ok": true}', etag='"e1"')
    port = _port(server)
    settings = loopback_settings(**http)
    with make_client(settings) as client:
        fetcher = Fetcher(client, settings, resolve=lambda host, port: ["127.0.0.1"], sleep=Sleeps())
        answer = fetcher.fetch(f"http://feeds.example.test:{port}/feed")
    assert isinstance(answer, Fetched)
    assert answer.body == b'{"ok": true}'
    [(path, headers)] = server.log
    assert path == "/feed"
    assert headers["Host"] == f"feeds.example.test:{port}"  # the name, not the pinned address
    assert system_lookups == []


def test_the_next_vetted_address_is_tried_when_one_refuses(server: Server, system_lookups: list[str]) -> None:
    server.routes["/feed"] = static(b"ok")
    port = _port(server)
    backend = RecordingBackend()
    settings = loopback_settings(allow_networks=["127.0.0.0/8"], allow_private_networks=False, retries=0)
    with make_client(settings, network_backend=backend) as client:
        fetcher = Fetcher(client, settings, resolve=lambda h, p: ["127.0.0.2", "127.0.0.1"], sleep=Sleeps())
        answer = fetcher.fetch(f"http://feeds.example.test:{port}/feed")  # nothing listens on 127.0.0.2
    assert isinstance(answer, Fetched)
    assert backend.connects == [("127.0.0.2", port), ("127.0.0.1", port)]
    assert system_lookups == []


def test_the_pinned_transport_refuses_a_request_the_guard_did_not_vet(server: Server) -> None:
    server.routes["/feed"] = static(b"x")
    with (
        make_client(loopback_settings()) as client,
        pytest.raises(httpx.ConnectError, match="no vetted address"),
    ):
        client.get(server.url("/feed"))
    assert server.log == []


@pytest.fixture
def tls_server() -> Iterator[tuple[int, trustme.CA]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only ``feeds.example.test``."""
    ca = trustme.CA()
    cert = ca.issue_cert("feeds.example.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply(self, 200, self.headers.get("Host", "").encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(httpd.server_address[1]), ca
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_tls_checks_the_certificate_against_the_name_not_the_pinned_address(
    tls_server: tuple[int, trustme.CA],
) -> None:
    port, ca = tls_server
    settings = loopback_settings(allow_networks=["127.0.0.0/8"], allow_private_networks=False, retries=0)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with httpx.Client(transport=PinnedTransport(verify=context), trust_env=False) as client:
        fetcher = Fetcher(client, settings, resolve=lambda host, port: ["127.0.0.1"], sleep=Sleeps())
        answer = fetcher.fetch(f"https://feeds.example.test:{port}/feed")
        assert isinstance(answer, Fetched)
        assert answer.body == f"feeds.example.test:{port}".encode()
        with pytest.raises(SourceError, match="ConnectError"):  # the certificate does not name it
            fetcher.fetch(f"https://other.example.test:{port}/feed")


def test_the_pinned_transport_loads_its_trust_store_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One TLS context (its CA bundle is over a megabyte resident) serves the base transport and
    the pinned pool alike."""
    made: list[ssl.SSLContext] = []
    original = httpx.create_ssl_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(httpx, "create_ssl_context", counted)
    monkeypatch.setattr(httpx_default, "create_ssl_context", counted)  # the base transport's own
    transport = PinnedTransport()
    try:
        assert made  # the transport did ask for its TLS context
        assert len({id(context) for context in made}) == 1
    finally:
        transport.close()


# --- 6. allow_networks, allow_private_networks and the metadata ranges ------------------------

SETTINGS = {
    "default": {},
    "private": {"allow_private_networks": True},
    "loopback": {"allow_networks": ["127.0.0.0/8"]},
    "metadata": {"allow_networks": ["169.254.169.254/32"]},
    "private+link-local": {"allow_private_networks": True, "allow_networks": ["169.254.0.0/16", "fe80::/10"]},
}
# allowed under: default, private, loopback, metadata, private+link-local (worked out by hand)
RANGES = {
    PUBLIC: "YYYYY",
    "2606:4700::1111": "YYYYY",
    "127.0.0.1": "NYYNY",
    "127.8.9.10": "NYYNY",
    "::1": "NYNNY",
    "10.1.2.3": "NYNNY",
    "172.16.0.1": "NYNNY",
    "192.168.1.1": "NYNNY",
    "100.64.0.1": "NYNNY",  # carrier-grade NAT
    "fd00::1": "NYNNY",
    "0.0.0.0": "NYNNY",
    "::ffff:127.0.0.1": "NYYNY",  # judged by the IPv4 address it carries
    "169.254.169.254": "NNNYY",
    "169.254.1.1": "NNNNY",
    "fe80::1": "NNNNY",
    "::ffff:169.254.169.254": "NNNYY",
    "64:ff9b::a9fe:a9fe": "NNNYY",  # NAT64 form of 169.254.169.254
    "100.100.100.200": "NNNNN",  # Alibaba Cloud's metadata service
    "fd00:ec2::254": "NNNNN",  # AWS's IPv6 metadata service
}


@pytest.mark.parametrize("address", sorted(RANGES))
@pytest.mark.parametrize("name", list(SETTINGS))
def test_the_guard_on_each_range(address: str, name: str) -> None:
    expected = RANGES[address][list(SETTINGS).index(name)] == "Y"
    http = HttpSettings.model_validate(SETTINGS[name])
    reason = address_refusal(
        address, allow_private=http.allow_private_networks, allow_networks=http.allow_networks
    )
    assert (reason is None) is expected, reason
    host = f"[{address}]" if ":" in address else address
    url = httpx.URL(f"http://{host}/index.yaml")

    def check() -> tuple[str, ...]:
        return check_address(
            url,
            allow_private=http.allow_private_networks,
            allow_networks=http.allow_networks,
            resolve=lambda h, p: [h],
        )

    if expected:
        assert check() == (address,)
    else:
        with pytest.raises(SourceError, match="refused"):
            check()


def test_one_refused_address_among_the_answers_refuses_the_name() -> None:
    with pytest.raises(SourceError, match=r"resolves to a link-local address 169\.254\.169\.254"):
        check_address(
            httpx.URL("http://metadata.example.test/"),
            allow_private=True,
            resolve=lambda host, port: ["10.0.0.5", "169.254.169.254"],
        )


def test_allow_networks_is_validated_in_the_config() -> None:
    with pytest.raises(ValueError, match="host bits set"):
        HttpSettings.model_validate({"allow_networks": ["127.0.0.1/8"]})
    with pytest.raises(ValueError, match="is not a network"):
        HttpSettings.model_validate({"allow_networks": ["localhost"]})
    parsed = HttpSettings.model_validate({"allow_networks": ["127.0.0.0/8", "fd12:3456::/64"]})
    assert [str(net) for net in parsed.allow_networks] == ["127.0.0.0/8", "fd12:3456::/64"]


# --- 2, 4, 7: what a parser returns is bounded, dated plausibly and cleaned ------------------


def _source(server: Server, path: str, parse: Callable[[bytes], Parsed], **http: Any) -> HttpSource:
    fetcher = Fetcher(httpx.Client(trust_env=False), loopback_settings(**http), sleep=Sleeps())
    return HttpSource(path.strip("/"), server.url(path), fetcher, parse)


def _state(source: HttpSource) -> SourceState:
    return SourceState(name=source.name, configured_url=source.url, url=source.url)


def _versions(result: Any) -> dict[str, Any]:
    return {release.version: release for release in result.releases}


def _feed(*items: tuple[str, str]) -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><description>Release date: {day}</description></item>"
        for title, day in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>n</title>{entries}</channel></rss>'.encode()
    )


def _astro(days: dict[str, str]) -> bytes:
    versions = {
        v: {"metadata": {"channel": "stable", "releaseDate": d}, "imageTags": []} for v, d in days.items()
    }
    return json.dumps({"clientVersions": versions}).encode()


def _helm(created: dict[str, str], app: str = "1.8.2") -> bytes:
    entries = [{"name": CHART, "version": v, "created": c, "appVersion": app} for v, c in created.items()]
    return json.dumps(
        {"apiVersion": "v1", "entries": {CHART: entries}, "generated": "2026-07-23T00:00:00Z"}
    ).encode()


LATEST = (T0 + timedelta(days=366)).date()  # 2027-07-24: still plausible


@pytest.mark.parametrize(
    ("kind", "body", "kept", "refused"),
    [
        (
            "feed",
            _feed(("Agent 1.8.0", "July 1, 2026"), ("Agent 1.8.1", "December 31, 9999"),
                  ("Agent 1.8.2", "January 1, 0001"), ("Agent 1.8.3", "December 31, 2019"),
                  ("Agent 1.8.4", "January 1, 2020"), ("Agent 1.8.5", "July 24, 2027"),
                  ("Agent 1.8.6", "July 25, 2027")),
            {"1.8.0", "1.8.4", "1.8.5"},
            {"1.8.1", "1.8.2", "1.8.3", "1.8.6"},
        ),
        (
            "astro_updates",
            _astro({"1.8.0": "2026-07-01", "1.8.1": "9999-12-31", "1.8.2": "0001-01-01T00:00:00Z",
                    "1.8.3": "2019-12-31", "1.8.4": "2020-01-01", "1.8.5": "2027-07-24", "1.8.6": "2027-07-25"}),
            {"1.8.0", "1.8.4", "1.8.5"},
            {"1.8.1", "1.8.2", "1.8.3", "1.8.6"},
        ),
        (
            "helm",
            _helm({"2.3.0": "2026-07-01T00:00:00Z", "2.3.1": "9999-12-31T00:00:00Z", "2.3.2": "2019-06-01T00:00:00Z",
                   "2.3.3": "0001-01-01T00:00:00Z", "2.3.4": "2027-08-01T00:00:00Z"}),
            {"2.3.0", "2.3.3"},  # Helm's 0001-01-01 means "never set": kept, without a date
            {"2.3.1", "2.3.2", "2.3.4"},
        ),
    ],
)  # fmt: skip
def test_implausible_release_days_are_refused_per_release(
    server: Server, kind: str, body: bytes, kept: set[str], refused: set[str]
) -> None:
    parsers: dict[str, Callable[[bytes], Parsed]] = {
        "feed": lambda b: parse_feed(b, component="agent"),
        "astro_updates": lambda b: parse_astro_updates(b, component="agent"),
        "helm": lambda b: parse_helm_index(b, chart=CHART),
    }
    server.routes["/src"] = static(body)
    result = _source(server, "/src", parsers[kind]).poll(
        _state(_source(server, "/src", parsers[kind])), now=T0
    )
    assert set(_versions(result)) == kept
    assert result.refused == len(refused)
    assert result.skipped >= len(refused)
    assert result.note is not None
    for version in refused:
        assert f" {version}: release date " in result.note
    assert "is implausible" in result.note
    assert all(
        r.released_on is None or date(2020, 1, 1) <= r.released_on <= LATEST for r in result.releases or ()
    )


def test_a_known_release_re_dated_to_9999_keeps_its_date(server: Server, engine: Engine) -> None:
    store = Store(engine)
    parse: Callable[[bytes], Parsed] = lambda b: parse_astro_updates(b, component="agent")  # noqa: E731
    server.routes["/src"] = static(_astro({"1.8.0": "2026-07-01", "1.8.1": "2026-07-10"}))
    source = _source(server, "/src", parse)
    first = source.poll(_state(source), now=T0)
    store.record(source.name, first.url, first.releases or (), seen_at=T0)
    server.routes["/src"] = static(_astro({"1.8.0": "9999-12-31", "1.8.1": "2026-07-10"}))
    second = source.poll(_state(source), now=T0 + timedelta(hours=1))
    assert set(_versions(second)) == {"1.8.1"}
    assert second.note is not None and "agent 1.8.0: release date 9999-12-31 is implausible" in second.note
    store.record(source.name, second.url, second.releases or (), seen_at=T0 + timedelta(hours=1))
    dates = {r.version: r.released_on for r in store.releases()}
    assert dates == {"1.8.0": date(2026, 7, 1), "1.8.1": date(2026, 7, 10)}


def test_every_release_re_dated_makes_the_answer_rejected_whole(server: Server) -> None:
    from supportwatch.errors import SourceRejected  # noqa: PLC0415
    from supportwatch.sources.result import check_plausible  # noqa: PLC0415

    server.routes["/src"] = static(_astro({"1.8.0": "9999-12-31", "1.8.1": "9999-12-31"}))
    source = _source(server, "/src", lambda b: parse_astro_updates(b, component="agent"))
    result = source.poll(_state(source), now=T0)
    with pytest.raises(SourceRejected, match=r"answered no releases \(2 refused: refused agent 1\.8\.0"):
        check_plausible(source.name, result.url, result, 2)


def test_over_long_values_from_a_source_are_refused_or_dropped_and_said(server: Server) -> None:
    long_version = "1.9.0-" + "b" * 70
    body = json.dumps(
        {
            "clientVersions": {
                "1.8.2": {"metadata": {"channel": "stable", "releaseDate": "2026-07-17"},
                          "imageTags": ["3.2-5-python-3.12-astro-agent-1.8.2"]},
                long_version: {"metadata": {"channel": "stable", "releaseDate": "2026-07-20"}},
            }
        }
    ).encode()  # fmt: skip
    server.routes["/src"] = static(body, etag='"' + "e" * 600 + '"', last_modified="x" * 200)
    source = _source(server, "/src", lambda b: parse_astro_updates(b, component="agent"))
    result = source.poll(_state(source), now=T0)
    assert set(_versions(result)) == {"1.8.2"}
    assert result.validators.etag is None and result.validators.last_modified is None
    assert result.note is not None
    assert "its version is 76 characters (max 64)" in result.note
    assert "ETag is 602 characters (max 512); not kept" in result.note
    assert "Last-Modified is 200 characters (max 128); not kept" in result.note


def test_a_move_to_an_over_long_url_is_not_stored(server: Server) -> None:
    target = "/moved?" + "q" * 2100
    server.routes["/src"] = status(301, {"Location": target})
    server.routes[target] = static(_astro({"1.8.2": "2026-07-17"}))
    source = _source(server, "/src", lambda b: parse_astro_updates(b, component="agent"))
    result = source.poll(_state(source), now=T0)
    assert result.url == server.url("/src")
    assert set(_versions(result)) == {"1.8.2"}
    assert result.note is not None and "moved the source to a url of" in result.note


def test_a_parser_bug_is_a_source_error_not_a_crash(server: Server) -> None:
    server.routes["/src"] = static(b"{}")

    def broken(body: bytes) -> Parsed:
        raise ZeroDivisionError("bug")

    source = _source(server, "/src", broken)
    with pytest.raises(SourceError, match=r"reading the answer failed \(ZeroDivisionError\)"):
        source.poll(_state(source), now=T0)


def test_accept_keeps_the_poll_s_now() -> None:
    # the window moves with the poll's now, not with the wall clock
    from supportwatch.sources.result import SourceResult  # noqa: PLC0415
    from supportwatch.values import Release  # noqa: PLC0415

    later = SourceResult("https://x.invalid/", (Release("agent", "3.0.0", date(2030, 1, 1)),))
    assert accept(later, now=datetime(2029, 6, 1, tzinfo=UTC), fetched_from="https://x.invalid/").refused == 0
    assert accept(later, now=datetime(2028, 6, 1, tzinfo=UTC), fetched_from="https://x.invalid/").refused == 1


# --- 7. terminal controls never reach what is stored -----------------------------------------

ESC = "\x1b"


def test_an_escape_sequence_in_a_helm_app_version_is_removed() -> None:
    yaml_index = (
        b"apiVersion: v1\nentries:\n  astro-remote-execution-agent:\n  - version: 2.3.3\n"
        b'    appVersion: "\\e[31m1.8.2\\e[0m"\n    created: "2026-07-22T10:00:00Z"\n'
        b'  - version: 2.3.2\n    appVersion: "\\e]0;owned\\aevil\\e[2J"\n    created: "2026-07-17T10:00:00Z"\n'
        b'generated: "2026-07-23T00:00:00Z"\n'
    )
    found = {r.version: r for r in parse_helm_index(yaml_index, chart=CHART).releases}
    assert found["2.3.3"].app_version == "1.8.2"
    assert found["2.3.2"].app_version == "evil"
    json_index = _helm({"2.3.3": "2026-07-22T10:00:00Z"}, app=f"{ESC}[1;31m1.8.2{ESC}[0m\x9b2J\x07")
    [release] = parse_helm_index(json_index, chart=CHART).releases
    assert release.app_version == "1.8.2"


def test_an_escape_sequence_in_a_feed_title_is_removed_and_the_version_read() -> None:
    body = _feed((f"Remote Execution Agent {ESC}[1;31m1.8.3{ESC}[0m", "July 20, 2026"),
                 ("Remote Execution Agent &#27;[2J1.8.4", "July 21, 2026"))  # fmt: skip
    found = {r.version: r.released_on for r in parse_feed(body, component="agent").releases}
    assert found == {"1.8.3": date(2026, 7, 20), "1.8.4": date(2026, 7, 21)}


def test_escape_sequences_in_channels_tags_and_errors_are_removed() -> None:
    body = json.dumps(
        {"clientVersions": {"1.8.2": {"metadata": {"channel": f"stable{ESC}[8m", "releaseDate": "2026-07-17"},
                                      "imageTags": [f"3.2-5-python-3.12-astro-agent-1.8.2{ESC}[0m"]}}}
    ).encode()  # fmt: skip
    [release] = parse_astro_updates(body, component="agent").releases
    assert release.channel == "stable"
    assert release.image_tags == ("3.2-5-python-3.12-astro-agent-1.8.2",)
    index = json.dumps({"apiVersion": "v1", "entries": {f"{ESC}]0;x{ESC}\\evil{ESC}[2J": []}}).encode()
    with pytest.raises(SourceError) as info:
        parse_helm_index(index, chart=CHART)
    assert ESC not in str(info.value) and "evil" in str(info.value)


# --- 2 and 7 end to end: one poll on SQLite and PostgreSQL ------------------------------------


def _no_controls(text: str | None) -> bool:
    return text is None or all(ch.isprintable() for ch in text)


def test_one_poll_with_hostile_values_records_the_rest_and_polls_every_source(
    server: Server, engine: Engine
) -> None:
    long_chart = "2.4.0-" + "c" * 70
    index = json.loads(_helm({"2.3.3": "2026-07-22T10:00:00Z", long_chart: "2026-07-22T11:00:00Z"}))
    index["entries"][CHART][0]["appVersion"] = f"{ESC}[31m1.8.2{ESC}[0m"
    server.routes["/index.json"] = static(json.dumps(index).encode(), etag='"' + "e" * 600 + '"')
    server.routes["/astro-agent"] = status(301, {"Location": "/v2?" + "q" * 2100})
    server.routes["/v2?" + "q" * 2100] = static(fixture_bytes("astro-agent.json"), last_modified="L" * 300)
    server.routes["/notes.rss"] = static(
        _feed(
            (f"Remote Execution Agent {ESC}[1m1.8.3{ESC}[0m", "July 20, 2026"),
            ("Agent 1.8.1", "December 31, 9999"),
        )
    )
    settings = Settings.model_validate(
        {
            "database_url": "sqlite://",
            "http": {"allow_networks": ["127.0.0.0/8"], "retries": 0, "deadline_seconds": 10},
            "sources": [
                {"name": "chart-index", "kind": "helm", "url": server.url("/index.json"), "chart": CHART},
                {"name": "agent-versions", "kind": "astro_updates", "url": server.url("/astro-agent")},
                {
                    "name": "agent-notes",
                    "kind": "feed",
                    "url": server.url("/notes.rss"),
                    "component": "agent",
                },
            ],
        }
    )
    service = Service(settings, engine, Store(engine, source_priority=settings.source_priority()))
    service.fetcher = Fetcher(httpx.Client(trust_env=False), settings.http, sleep=Sleeps())
    # every source judges release days as of the poll's now (T0), not the wall clock
    assert all(isinstance(source, HttpSource) for source in service.sources().values())
    outcomes = {item.source: item for item in service.poll(T0)}
    assert {name: item.status for name, item in outcomes.items()} == {
        "chart-index": "fetched",
        "agent-versions": "fetched",
        "agent-notes": "fetched",
    }
    assert outcomes["chart-index"].skipped == 1  # the over-long version
    assert outcomes["agent-notes"].skipped == 1  # the 9999 date
    catalog = {(r.component, r.version): r for r in service.releases()}
    assert catalog[("chart", "2.3.3")].app_version == "1.8.2"
    assert ("chart", long_chart) not in catalog
    assert ("agent", "1.8.3") in catalog
    chart_state = service.store.source_state("chart-index")
    agent_state = service.store.source_state("agent-versions")
    assert chart_state is not None and chart_state.etag is None
    assert agent_state is not None and agent_state.url == server.url("/astro-agent")
    assert agent_state.last_modified is None
    with engine.connect() as connection:
        texts = [
            *(t for r in connection.execute(select(release_table)) for t in (r.version, r.app_version, r.channel, *r.image_tags)),
            *(t for o in connection.execute(select(observation_table)) for t in (o.version, o.app_version, o.url)),
            *(t for s in connection.execute(select(source_state_table)) for t in (s.url, s.etag, s.last_error)),
        ]  # fmt: skip
    assert texts and all(_no_controls(text) for text in texts)


@pytest.mark.parametrize("address", ["fd20:ce::254", "192.0.0.192", "168.63.129.16"])
def test_other_clouds_metadata_endpoints_are_refused_unless_listed(address: str) -> None:
    assert address_refusal(address) is not None
    assert address_refusal(address, allow_private=True) is not None
    listed = [ipaddress.ip_network(f"{address}/{128 if ':' in address else 32}")]
    assert address_refusal(address, allow_private=True, allow_networks=listed) is None
