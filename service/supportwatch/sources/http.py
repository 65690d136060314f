"""The one polite fetcher: every release source downloads through ``Fetcher.fetch``.

Politeness and safety, in order of a request's life:

- the address guard resolves each hop's host and refuses loopback, private, link-local,
  reserved and IPv4-mapped addresses, except those in a network listed in
  ``http.allow_networks`` (``http.allow_private_networks`` allows every non-public address but
  the link-local and cloud metadata ones); redirects are followed here, hop by hop, so every
  hop is checked;
- the connection goes to an address the guard vetted: the guard's answer travels with the
  request (``PIN_EXTENSION``) and ``make_client``'s transport connects only to it, so a name
  that answers a public address to the guard and a private one a moment later (DNS rebinding)
  still reaches the public one; the Host header and the TLS server name stay the host's name;
- conditional GET: the caller's ETag / Last-Modified go out as If-None-Match /
  If-Modified-Since, and a 304 comes back as ``NotModified`` (one request, nothing to parse);
- connect and read timeouts per request, plus one deadline for the whole fetch (retries and
  waits included), checked between body chunks so a server dripping bytes is cut off;
- a byte cap on the decoded body (gzip is accepted, and a gzip bomb hits the cap);
- 408, 425, 429, 5xx (but 501, 505, ...) and network errors are retried with exponential
  backoff and jitter, honouring ``Retry-After`` (both as ``supportwatch.retry`` reads them); a
  301/308 chain moves the source's stored URL; 410 raises ``SourceGone``. A ``Retry-After``
  date is measured from the ``now`` the caller passes (the poll's moment) plus the time the
  fetch has taken: the fetcher reads no wall clock of its own.

The client is injected (one owner: the ``Service``); the fetcher never closes it. Error
messages show URLs without credentials or query strings and never contain a token.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx
from pydantic import SecretStr

from supportwatch.config import HttpSettings
from supportwatch.errors import SourceError
from supportwatch.retry import backoff, delta_seconds, retry_after, retryable_status
from supportwatch.sources.result import SourceGone, Validators
from supportwatch.sources.urls import display, same_origin

MAX_REDIRECTS = 5
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})

Resolver = Callable[[str, int], list[str]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# a first fetch: nothing to send back for a conditional GET
NO_VALIDATORS = Validators()

# The request extension that carries the guard's vetted addresses to ``PinnedTransport``.
PIN_EXTENSION = "supportwatch.vetted_addresses"
# Link-local and cloud metadata endpoints: allowed only when a listed network holds them,
# never by ``allow_private_networks`` (169.254.169.254 and fd00:ec2::254 hand out credentials;
# fd20:ce::254 is GCP's, 192.0.0.192 Oracle's, 168.63.129.16 Azure's WireServer — public, but
# refused even by default).
METADATA_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "169.254.0.0/16",
        "fe80::/10",
        "100.100.100.200/32",
        "fd00:ec2::254/128",
        "fd20:ce::254/128",
        "192.0.0.192/32",
        "168.63.129.16/32",
    )
)


class _Retryable(SourceError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(slots=True)
class _Budget:
    """One fetch's limits and its request count, shared by its attempts and hops.

    ``began_at`` is the fetch's start on the wall clock (the caller's ``now``; None when not
    given) and ``began`` the same moment on the fetcher's monotonic ``clock``.
    """

    deadline: float
    cap: int
    began: float
    began_at: datetime | None = None
    requests: int = 0


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 answer. ``url`` is the URL to fetch next time (moved by a permanent redirect)."""

    body: bytes
    url: str
    validators: Validators
    requests: int


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304 answer: the stored data is current."""

    url: str
    requests: int


# (host, vetted addresses) of the request ``PinnedTransport`` is sending in this context
_PIN: ContextVar[tuple[str, tuple[str, ...]] | None] = ContextVar("supportwatch_pin", default=None)


class PinnedBackend(httpcore.NetworkBackend):
    """A network backend that connects only to the addresses the guard vetted for the host.

    It never resolves a name: the host ``httpcore`` asks for must be the one the current
    request was vetted for, and the connection goes to those addresses, in order. Anything
    else (a request without vetted addresses) is refused, so the guard cannot be skipped.
    """

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        pin = _PIN.get()
        if pin is None or pin[0] != host or not pin[1]:
            raise httpcore.ConnectError(f"no vetted address for {host!r}; refusing to resolve it again")
        *others, last = pin[1]
        for address in others:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue  # the next vetted address, as a resolver-driven connect would
        return self._inner.connect_tcp(
            last, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used by the fetcher")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connections go to the request's vetted addresses only.

    The request URL keeps the host's name, so the Host header, the TLS server name (SNI) and
    the certificate check are the name's; only the TCP connection is pinned. Connections are
    not kept alive: each request connects to the addresses vetted for it.
    """

    def __init__(
        self, *, network_backend: httpcore.NetworkBackend | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        # one TLS context (its trust store is a megabyte) for the base class and the pinned pool
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=10,
            max_keepalive_connections=0,
            network_backend=PinnedBackend(network_backend),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        vetted = request.extensions.get(PIN_EXTENSION)
        host = request.url.raw_host.decode("ascii")
        token = _PIN.set((host, tuple(vetted)) if vetted else None)
        try:
            return super().handle_request(request)
        finally:
            _PIN.reset(token)


def make_client(
    settings: HttpSettings, *, network_backend: httpcore.NetworkBackend | None = None
) -> httpx.Client:
    """The process's one HTTP client for sources; redirects are followed by ``Fetcher``.

    Its transport connects only to the addresses the ``Fetcher``'s guard vetted for each
    request (``network_backend`` is for tests: it receives those addresses, never a name).
    """
    return httpx.Client(
        transport=PinnedTransport(network_backend=network_backend),
        timeout=httpx.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds),
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent},
        # proxies from the environment would bypass the address guard
        trust_env=False,
    )


def getaddrinfo_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def refused_reason(address: str) -> str | None:
    """Why ``address`` may not be fetched from (None: a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        kind, inner_ip = embedded
        inner = refused_reason(str(inner_ip))
        return f"{kind} {inner}" if inner else None
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved or ip.is_unspecified),
    ):
        if flag:
            return f"{label} address {ip}"
    return None if ip.is_global else f"non-public address {ip}"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    # IPv6 forms that carry an IPv4 address reach that address: judge it by the IPv4 rules
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4-wrapped", ip.sixtofour
    if ip in _NAT64:
        return "NAT64-wrapped", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _forms(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """``ip`` and, for an IPv6 form that carries an IPv4 address, that address."""
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        return [ip, embedded[1]]
    return [ip]


def address_refusal(
    address: str, *, allow_private: bool = False, allow_networks: Sequence[Network] = ()
) -> str | None:
    """Why the fetcher may not connect to ``address`` under these settings (None: it may).

    Public addresses and those in a network of ``allow_networks`` are allowed (an IPv6 form
    of an IPv4 address is judged by both); ``allow_private`` allows every other address too,
    except link-local and cloud metadata ones, which only a listed network allows.
    """
    forms = _forms(ipaddress.ip_address(address.split("%", 1)[0]))
    if any(form in network for form in forms for network in allow_networks):
        return None
    reason = refused_reason(address)
    if any(form in network for form in forms for network in METADATA_NETWORKS):
        shown = reason or f"{address} is a cloud metadata endpoint"
        return f"{shown} (link-local or cloud metadata: allowed only when listed in http.allow_networks)"
    if reason is None:
        return None
    return None if allow_private else reason


def check_address(
    url: httpx.URL,
    *,
    allow_private: bool,
    resolve: Resolver,
    allow_networks: Sequence[Network] = (),
) -> tuple[str, ...]:
    """Every address ``url``'s host resolves to, if it is http(s) and all of them are allowed.

    The caller connects to these addresses and no others (``PIN_EXTENSION``): resolving the
    name again could answer differently. Raises ``SourceError`` naming the refused address.
    """
    if url.scheme not in ("http", "https"):
        raise SourceError(f"{display(url)}: scheme {url.scheme!r} is not allowed; use an http(s) URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        # the name as it goes on the wire (IDNA-encoded): the one the connection would resolve
        host = url.raw_host.decode("ascii")
        addresses = tuple(dict.fromkeys(resolve(host, port)))
    except UnicodeError:  # IDNA: an empty or over-long label
        raise SourceError(_bad_host(url)) from None
    except OSError as exc:
        raise _Retryable(f"{display(url)}: cannot resolve {url.host!r} ({exc.strerror or exc})") from None
    if not addresses:
        raise _Retryable(f"{display(url)}: {url.host!r} resolves to no address")
    for address in addresses:
        try:
            reason = address_refusal(address, allow_private=allow_private, allow_networks=allow_networks)
        except ValueError:
            raise SourceError(
                f"{display(url)}: {url.host!r} resolves to {address!r}, not an IP address"
            ) from None
        if reason is not None:
            raise SourceError(
                f"{display(url)}: refused, {url.host!r} resolves to a {reason}; sources must be public "
                "(list a trusted local network in http.allow_networks, e.g. [127.0.0.0/8])"
            )
    return addresses


def _bad_host(url: httpx.URL) -> str:
    return f"{display(url)}: {url.host!r} is not a valid host name; fix the source url"


class Fetcher:
    """Fetches source URLs politely; ``sleep``, ``clock``, ``rng`` and ``resolve`` are injectable.

    Each request carries the addresses the guard vetted (``PIN_EXTENSION``); a client from
    ``make_client`` connects to those only. Another client (a test's ``MockTransport``) ignores
    them and resolves the name itself: give the fetcher ``make_client``'s in production.
    """

    def __init__(
        self,
        client: httpx.Client,
        settings: HttpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        resolve: Resolver = getaddrinfo_resolver,
    ) -> None:
        self._client = client
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._resolve = resolve

    def fetch(
        self,
        url: str,
        *,
        validators: Validators = NO_VALIDATORS,
        max_bytes: int | None = None,
        token: SecretStr | None = None,
        now: datetime | None = None,
    ) -> Fetched | NotModified:
        """GET ``url`` (conditionally, if ``validators`` are given), retrying what may pass.

        ``now`` is the moment the fetch begins (aware): a ``Retry-After`` date is measured from
        it; without it only a ``Retry-After`` in seconds is honoured (a date backs off).
        Raises ``SourceGone`` on 410 and ``SourceError`` on anything else that failed; the
        message names the URL (without credentials) and what to do.
        """
        began = self._clock()
        budget = _Budget(
            began + self._settings.deadline_seconds, max_bytes or self._settings.max_bytes, began, now
        )
        deadline = budget.deadline
        attempt = 0
        while True:
            try:
                return self._follow(url, validators, token, budget)
            except _Retryable as exc:
                attempt += 1
                if attempt > self._settings.retries:
                    raise SourceError(f"{exc} (gave up after {attempt} attempts)") from None
                delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                if self._clock() + delay > deadline:
                    raise SourceError(
                        f"{exc}; waiting {delay:.0f}s to retry would pass the "
                        f"{self._settings.deadline_seconds:.0f}s deadline (http.deadline_seconds)"
                    ) from None
                self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        # the shared exponential step, with jitter: half of it, plus up to the other half
        ceiling = backoff(attempt, BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _follow(
        self, url: str, validators: Validators, token: SecretStr | None, budget: _Budget
    ) -> Fetched | NotModified:
        try:
            origin = current = httpx.URL(url)
        except httpx.InvalidURL:
            raise SourceError(f"{display(url)!r} is not a valid URL; fix the source url") from None
        stored, permanent = url, True
        for _hop in range(MAX_REDIRECTS + 1):
            vetted = check_address(
                current,
                allow_private=self._settings.allow_private_networks,
                allow_networks=self._settings.allow_networks,
                resolve=self._resolve,
            )
            request = self._client.build_request(
                "GET",
                current,
                headers=_headers(validators, token if same_origin(current, origin) else None),
                timeout=self._timeout(budget.deadline),
                extensions={PIN_EXTENSION: vetted},
            )
            budget.requests += 1
            response = self._send(request)
            try:
                if response.status_code in _REDIRECTS:
                    target = _location(response, current)
                    permanent = permanent and response.status_code in _PERMANENT
                    stored = str(target) if permanent else stored
                    current = target
                    continue
                return self._answer(response, stored, budget)
            finally:
                response.close()
        raise SourceError(f"{display(url)}: more than {MAX_REDIRECTS} redirects; fix the source url")

    def _timeout(self, deadline: float) -> httpx.Timeout:
        left = max(0.001, deadline - self._clock())
        return httpx.Timeout(
            min(self._settings.read_timeout_seconds, left),
            connect=min(self._settings.connect_timeout_seconds, left),
        )

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._client.send(request, stream=True)
        except UnicodeError:  # IDNA, when the guard did not resolve (private networks allowed)
            raise SourceError(_bad_host(request.url)) from None
        except httpx.TimeoutException:
            raise _Retryable(f"{display(request.url)}: timed out") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{display(request.url)}: {type(exc).__name__}") from None

    def _answer(self, response: httpx.Response, stored: str, budget: _Budget) -> Fetched | NotModified:
        status = response.status_code
        where = display(response.request.url)
        if status == 304:
            return NotModified(stored, budget.requests)
        if status == 200:
            body = self._read(response, budget)
            etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
            return Fetched(body, stored, Validators(etag, modified), budget.requests)
        if status == 410:
            raise SourceGone(f"{where}: HTTP 410 Gone; the source is disabled until its url is changed")
        if retryable_status(status):
            raise _Retryable(f"{where}: HTTP {status}", self._retry_after(response, budget))
        raise SourceError(f"{where}: HTTP {status}; check the source's url (and token, if it needs one)")

    def _retry_after(self, response: httpx.Response, budget: _Budget) -> float | None:
        header = response.headers.get("retry-after")
        if budget.began_at is None:
            return delta_seconds(header)
        return retry_after(header, budget.began_at + timedelta(seconds=self._clock() - budget.began))

    def _read(self, response: httpx.Response, budget: _Budget) -> bytes:
        where, cap = display(response.request.url), budget.cap
        declared = response.headers.get("content-length", "")
        too_big = f"{where}: the answer is larger than {cap} bytes; raise the source's max_bytes if expected"
        if declared.isdigit() and int(declared) > cap:
            raise SourceError(too_big)
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > cap:
                    raise SourceError(too_big)
                if self._clock() > budget.deadline:
                    raise SourceError(
                        f"{where}: the answer did not arrive within the "
                        f"{self._settings.deadline_seconds:.0f}s deadline (http.deadline_seconds)"
                    )
                chunks.append(chunk)
        except httpx.DecodingError:
            raise SourceError(f"{where}: the answer's content encoding is corrupt") from None
        except httpx.TimeoutException:
            raise _Retryable(f"{where}: timed out while reading the answer") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{where}: {type(exc).__name__} while reading the answer") from None
        return b"".join(chunks)


def _headers(validators: Validators, token: SecretStr | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    if token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    return headers


def _location(response: httpx.Response, current: httpx.URL) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise SourceError(f"{display(current)}: HTTP {response.status_code} without a Location header")
    try:
        return current.join(location)
    except httpx.InvalidURL:
        raise SourceError(f"{display(current)}: redirect to an invalid URL") from None
