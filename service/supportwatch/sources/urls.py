"""Source URLs as messages may show them, and whose token a URL may carry — pure (stdlib only).

A source URL can hold a credential in its user info or query (``https://user:pw@host/?token=``):
``display`` drops both (and the fragment), so a message, a log line or an API answer never
quotes one. ``same_origin`` decides whether a source's token may go to a URL: only to the
scheme, host and port it was configured for.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_USER_INFO = re.compile(r"//[^/?#]*@")


def display(url: object) -> str:
    """``url`` safe for messages: scheme, host (lower case, IDNA decoded), port, path; no user
    info, query or fragment (either may carry a credential)."""
    text = str(url)
    try:
        parts = urlsplit(text)
        host, port = _host(parts), _port(parts)
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        return _USER_INFO.sub("//", text).split("?", 1)[0].split("#", 1)[0]
    scheme = parts.scheme.lower()
    shown_port = f":{port}" if port and port != _DEFAULT_PORTS.get(scheme) else ""
    path = unquote(parts.path) or ("/" if host else "")
    return f"{scheme}://{host}{shown_port}{path}"


def same_origin(a: object, b: object) -> bool:
    """Whether two URLs share scheme, host and port: a token goes only to its own origin."""
    try:
        first, second = urlsplit(str(a)), urlsplit(str(b))
        return _origin(first) == _origin(second)
    except ValueError:
        return False


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    scheme = parts.scheme.lower()
    return scheme, _host(parts), parts.port or _DEFAULT_PORTS.get(scheme)


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        digits = parts.netloc.rpartition(":")[2]
        if digits.isascii() and digits.isdigit():
            return int(digits)  # out of range: shown as written, the fetch says what is wrong
        raise


def _host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    try:
        return ".".join(
            label.encode("ascii").decode("idna") if label.startswith("xn--") else label
            for label in host.split(".")
        )
    except UnicodeError:  # not IDNA after all: shown as it was written
        return host
