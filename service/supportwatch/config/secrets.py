"""Secrets in the config: ``${ENV}`` references, ``*_file`` twins, and keeping values out of messages.

Interpolation records what it saw in ``Seen``: every value under a secret key (``SECRET_KEYS``,
literal, from ``${ENV}`` or from a ``*_file``) is shown as ``***``, every other value from the
environment as its ``${NAME}``. ``redact_url``, ``render_database_url`` and
``hide_database_password`` hide the passwords of URLs in messages and logs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import make_url

from supportwatch.config.loader import MAX_SECRET_BYTES, decode, read_regular_file, reason
from supportwatch.config.paths import Loc, format_path
from supportwatch.errors import ConfigError

SECRET_KEYS = frozenset({"password", "token", "webhook_url", "database_url"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Seen:
    """What interpolation saw that no error message may show.

    ``secrets``: every value under a secret key (literal, from ``${ENV}`` or from a ``*_file``),
    shown as ``***``. ``env``: every other value taken from the environment, shown as its
    ``${NAME}`` (it may be a secret written in the wrong place, e.g. ``smtp: ${SMTP_PASSWORD}``).
    """

    secrets: set[str] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)

    def scrub(self, text: str) -> str:
        hidden = [(value, "***") for value in self.secrets]
        hidden += [(value, f"${{{name}}}") for value, name in self.env.items() if value not in self.secrets]
        for value, shown in sorted(hidden, key=lambda pair: len(pair[0]), reverse=True):
            if len(value) >= 4:
                for form in {value, repr(value)[1:-1]}:
                    text = text.replace(form, shown)
            elif value:
                # a short value is hidden only where it is quoted: a bare 'a' is in every word
                text = text.replace(repr(value), repr(shown))
        return text

    def scrub_error(self, exc: ConfigError) -> ConfigError:
        return ConfigError(self.scrub(exc.path), self.scrub(exc.message))


def interpolate(value: Any, path: Loc, base: Path, seen: Seen, secret: bool = False) -> Any:
    """Replace ``${ENV}`` and read ``*_file`` twins; ``secret``: ``value`` is under a secret key."""
    if isinstance(value, str):
        text = substitute(value, path, seen, secret)
        if secret:
            seen.secrets.add(text)
        return text
    if isinstance(value, list):
        return [interpolate(item, (*path, index), base, seen, secret) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return _interpolate_mapping(value, path, base, seen, secret)
    if secret and value is not None and not isinstance(value, bool):
        seen.secrets.add(str(value))
    return value


def substitute(value: str, path: Loc, seen: Seen, secret: bool = False) -> str:
    if "$" not in value:  # nearly every value of a large fleet: skip the pattern
        return value

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name not in os.environ:
            raise ConfigError(format_path(path), f"environment variable {name} is not set; export {name}=...")
        found = os.environ[name]
        if secret:
            seen.secrets.add(found)
        else:
            seen.env.setdefault(found, name)
        return found

    return _ENV_REF.sub(replace, value)


def _interpolate_mapping(
    value: dict[Any, Any], path: Loc, base: Path, seen: Seen, secret: bool = False
) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, item in value.items():
        key_path = (*path, str(key))
        if isinstance(key, str) and key.endswith("_file") and key[: -len("_file")] in SECRET_KEYS:
            secret_key = key[: -len("_file")]
            if secret_key in value:
                raise ConfigError(format_path(key_path), f"set either {secret_key} or {key}, not both")
            if not isinstance(item, str):
                raise ConfigError(
                    format_path(key_path), f"must be a file name, e.g. {key}: /run/secrets/{secret_key}"
                )
            content = read_secret_file(substitute(item, key_path, seen), key_path, base)
            seen.secrets.add(content)
            result[secret_key] = content
        else:
            result[key] = interpolate(item, key_path, base, seen, secret or key in SECRET_KEYS)
    return result


def read_secret_file(name: str, path: Loc, base: Path) -> str:
    try:
        file = (base / name).resolve()
        data = read_regular_file(file, MAX_SECRET_BYTES, "secret file", name)
    except ConfigError as exc:
        raise ConfigError(format_path(path), exc.message) from None
    except (OSError, ValueError, RuntimeError) as exc:  # resolve(): a NUL byte, a symlink loop
        raise ConfigError(format_path(path), f"secret file {name!r} cannot be read ({reason(exc)})") from None
    try:
        return decode(data).strip()
    except UnicodeDecodeError:
        raise ConfigError(
            format_path(path), f"secret file {name!r} is not UTF-8 text; write the secret as UTF-8 text"
        ) from None


def holds_secret(value: Any) -> bool:
    """Whether ``value`` is a mapping or list with a secret key anywhere inside (no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(isinstance(key, str) and key in SECRET_KEYS for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def shape(value: Any) -> str:
    """A mapping or list described without its values: what ``(got ...)`` shows if it holds a secret."""
    if isinstance(value, dict):
        return f"a mapping with keys {', '.join(str(key) for key in value)}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return _KINDS.get(type(value).__name__, type(value).__name__)


_KINDS = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "true or false",
    "NoneType": "nothing",
}

# the password of a URL runs to the word's last '@' (a raw '/', ':' or '@' may be in it)
_URL_PASSWORD = re.compile(r"(//[^\s:/@]*:)\S*@")
_QUERY_SECRET = re.compile(
    r"([?&;][\w.-]*(?:password|passwd|pwd|secret|token)[\w.-]*=)[^&;#\s]*", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """A database or source URL, or a message holding some, with any password replaced by ``***``.

    A password in the user info may hold unencoded '/', ':' and '@'; one in the query
    (``?password=...``, ``&sslpassword=...``, ``?token=...``) is hidden too.
    """
    return _QUERY_SECRET.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", url))


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SECRET_QUERY_WORDS = ("password", "passwd", "pwd", "secret", "token")


def _secret_query_key(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_QUERY_WORDS)


def render_database_url(url: str) -> str:
    """``url`` for messages, rendered by SQLAlchemy with its password hidden.

    A password in the query string (``?password=...``) is hidden too, and so is the rest of
    an unencoded ``@`` in the password. A URL that does not parse shows only its scheme.
    """
    try:
        parsed = make_url(url)
        if parsed.host is not None and "@" in parsed.host:
            # an unencoded '@' in the password: the text up to the last '@' is the password's
            parsed = parsed.set(host=parsed.host.rsplit("@", 1)[1])
        hidden = {key: "***" for key in parsed.query if _secret_query_key(key)}
        if hidden:
            parsed = parsed.update_query_dict(hidden)
        return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
    except Exception:  # any parse failure (bad port, no scheme, ...): show the scheme alone
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return scheme if _URL_SCHEME.fullmatch(scheme) else "<unparseable database_url>"


def hide_database_password(text: str, url: str) -> str:
    """``text`` (a driver's error message) with the password of database ``url`` shown as ``***``.

    The password in the URL, in its percent-encoded form, and any password in the URL's query
    are hidden; for a message that names the URL itself, use ``render_database_url``.
    """
    try:
        parsed = make_url(url)
    except Exception:  # an unparseable URL: nothing is known to hide beyond the URL itself
        return text.replace(url, render_database_url(url)) if url else text
    secrets = [parsed.password or ""]
    for key, value in parsed.query.items():
        if _secret_query_key(key):
            secrets.extend([value] if isinstance(value, str) else value)
    for secret in sorted({item for item in secrets if item}, key=len, reverse=True):
        text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text
