"""The "no secret anywhere" table: the secrets, how each is provided, and every row's failure modes.

``test_no_secret_anywhere.py`` runs each row through every command and endpoint and searches
what comes out for every form of every secret listed here. A row is one config (the secrets
given inline, through ``${ENV}`` or through ``*_file`` twins) and one set of failure modes: what
the loopback Slack, SMTP and source servers answer, which database it points at, and, for a
config-error row, the mistake written next to the secrets.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, quote_plus

# --- the secrets -----------------------------------------------------------------------------
# Each carries a distinctive core: any 8 characters of a core in any output is a leak, so a
# secret cut in half (truncated, or masked only in one of its encodings) is still found.

WEBHOOK_PATH = "/services/T000/B000/XXXXSECRETWEBHOOK"  # a webhook's path is its credential
BOT_TOKEN = "xoxb-0000-0000-SECRETBOTTOKEN"
SMTP_USER = "sw-mailer"
SMTP_PASSWORD = "smtp-SECRETSMTPPW"
SOURCE_TOKEN = "src-SECRETSOURCETOKEN"
# '@', ':' and '/' must be percent-encoded in the URL: both spellings are searched for
DB_PASSWORD = "pg-SECRETDBPW-p@ss:w/rd"
WRONG_DB_PASSWORD = "pg-WRONGDBPW-n0t:it/@all"

CORE_WINDOW = 8


@dataclass(frozen=True)
class Secret:
    name: str
    value: str
    core: str
    extra: tuple[str, ...] = ()

    def needles(self) -> list[str]:
        """Every spelling of the secret that must never appear, lower-cased."""
        forms = {
            self.value,
            quote(self.value, safe=""),
            quote(self.value),
            quote_plus(self.value),
            base64.b64encode(self.value.encode()).decode(),
            *self.extra,
        }
        forms |= {self.core[i : i + CORE_WINDOW] for i in range(len(self.core) - CORE_WINDOW + 1)}
        return sorted({form.lower() for form in forms if form})


def secrets(webhook_url: str) -> list[Secret]:
    """Every configured secret of a row (``webhook_url``: that row's full webhook URL)."""
    auth_plain = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    return [
        Secret("slack webhook url", webhook_url, "XXXXSECRETWEBHOOK", (WEBHOOK_PATH,)),
        Secret("slack bot token", BOT_TOKEN, "SECRETBOTTOKEN"),
        Secret("smtp password", SMTP_PASSWORD, "SECRETSMTPPW", (auth_plain,)),
        Secret("source bearer token", SOURCE_TOKEN, "SECRETSOURCETOKEN"),
        Secret("database password", DB_PASSWORD, "SECRETDBPW"),
        Secret("wrong database password", WRONG_DB_PASSWORD, "WRONGDBPW"),
    ]


@dataclass(frozen=True)
class Leak:
    secret: str
    needle: str
    excerpt: str


def find_leaks(text: str, table: list[Secret]) -> list[Leak]:
    """Every secret found in ``text`` (case-insensitively), each with an excerpt around it."""
    lowered = text.lower()
    found: list[Leak] = []
    for secret in table:
        for needle in secret.needles():
            at = lowered.find(needle)
            if at >= 0:
                excerpt = text[max(0, at - 80) : at + len(needle) + 80]
                found.append(Leak(secret.name, needle, excerpt))
                break
    return found


# --- how a secret is written in the config ---------------------------------------------------

Provide = Literal["inline", "env", "file"]
PROVIDES: tuple[Provide, ...] = ("inline", "env", "file")

# the environment variables of the ``env`` rows (set for every row: harmless where unused)
ENV_NAMES = {
    "webhook_url": "SW_LEAK_SLACK_WEBHOOK",
    "token": "SW_LEAK_SLACK_TOKEN",
    "smtp_password": "SW_LEAK_SMTP_PASSWORD",
    "source_token": "SW_LEAK_SOURCE_TOKEN",
    "db_password": "SW_LEAK_DB_PASSWORD",
}
# the files of the ``file`` rows, relative to the config file (each ends in a newline)
FILE_NAMES = {
    "webhook_url": "secrets/slack-webhook",
    "token": "secrets/slack-token",
    "smtp_password": "secrets/smtp-password",
    "source_token": "secrets/source-token",
    "database_url": "secrets/database-url",
}


def put(mapping: dict[str, Any], key: str, value: str, provide: Provide, secret: str) -> None:
    """Write secret ``key`` into ``mapping`` inline, as ``${ENV}`` or as ``key_file``."""
    if provide == "inline":
        mapping[key] = value
    elif provide == "env":
        mapping[key] = "${" + ENV_NAMES[secret] + "}"
    else:
        mapping[f"{key}_file"] = FILE_NAMES[secret]


def reference(value: str, provide: Provide, secret: str) -> str:
    """How a plain (non-secret) key would quote this secret in each way of providing it."""
    return "${" + ENV_NAMES[secret] + "}" if provide == "env" else value


# --- the rows --------------------------------------------------------------------------------

Database = Literal["sqlite", "postgres", "postgres-wrong-password", "postgres-closed-port"]


@dataclass(frozen=True)
class Row:
    """One config and its failure modes.

    ``slack``: what the Slack server answers (webhook and bot API alike): ``ok``, ``500`` (a
    proxy's error page quoting the request path), ``404-json`` (a Spring-style JSON error whose
    ``path`` runs across the notifier's 200-character cut), ``429:<Retry-After>``,
    ``invalid_auth``, ``redirect`` (302 to another origin), or ``refused`` (both URLs point at
    a closed port on 127.0.0.1). ``smtp``: ``ok``,
    ``refuse-auth`` (535 to every login) or ``closed``. ``source``: ``ok``, ``401``, ``500``
    (with ``Retry-After: 0``), ``garbage`` (a sign-in page quoting the request's
    Authorization header), ``redirect`` (301/302/307 to another origin) or ``closed``.
    ``broken``: a config mistake next to the secrets (``BREAKS``); such a row stops at loading.
    ``subprocess``: the commands also run in a real process with logging at DEBUG on stderr;
    ``daemon``: ``supportwatch run`` too, every route fetched over a real socket.
    ``every_command``: False for the config-error rows whose mistake every command meets in the
    same loader; they run ``check`` and ``run`` only (the same mistake in another way of
    providing the secrets runs every command).
    """

    failure: str
    provide: Provide
    database: Database
    slack: str = "ok"
    smtp: str = "ok"
    source: str = "ok"
    broken: str | None = None
    subprocess: bool = False
    daemon: bool = False
    every_command: bool = True

    @property
    def id(self) -> str:
        if self.broken is not None:
            return f"{self.failure}-{self.provide}"
        return f"{self.failure}-{self.provide}-{self.database}"

    @property
    def reachable(self) -> bool:
        return self.broken is None and self.database in ("sqlite", "postgres")


@dataclass(frozen=True)
class Failure:
    name: str
    slack: str
    smtp: str
    source: str


FAILURES = [
    Failure("all-ok", "ok", "ok", "ok"),
    Failure("slack500-smtpauth-src401", "500", "refuse-auth", "401"),
    Failure("slack429huge-smtpclosed-src500", "429:1e400", "closed", "500"),
    Failure("slackinvalidauth-smtpauth-srcgarbage", "invalid_auth", "refuse-auth", "garbage"),
    Failure("slackrefused-smtpclosed-srcredirect", "refused", "closed", "redirect"),
    Failure("slack429date-smtpok-srcclosed", "429:Fri, 31 Dec 9999 23:59:59 GMT", "ok", "closed"),
    Failure("slack404path-smtpok-srcok", "404-json", "ok", "ok"),
    Failure("slackredirect-smtpok-srcok", "redirect", "ok", "ok"),
]


def _runtime_rows() -> list[Row]:
    """Each failure set in two ways of providing the secrets, in turn (each way meets five or six
    sets); the second row of the first four sets runs on PostgreSQL (slower), the rest on SQLite."""
    rows = []
    for index, failure in enumerate(FAILURES):
        for offset in range(2):
            database: Database = "postgres" if offset == 1 and index < 4 else "sqlite"
            rows.append(
                Row(
                    failure.name,
                    PROVIDES[(index + offset) % len(PROVIDES)],
                    database,
                    failure.slack,
                    failure.smtp,
                    failure.source,
                    subprocess=(failure.name, database) in SUBPROCESS,
                    daemon=(failure.name, database) in DAEMON,
                )
            )
    return rows


# the rows whose commands also run in a real process, and the one that also runs the daemon
SUBPROCESS = {("slack429huge-smtpclosed-src500", "sqlite")}
DAEMON = {("slack500-smtpauth-src401", "postgres")}


DATABASE_FAILURES: tuple[tuple[str, Database], ...] = (
    ("wrong-password", "postgres-wrong-password"),
    ("closed-port", "postgres-closed-port"),
)


def _database_rows() -> list[Row]:
    """The database refusing the password, or the connection, in every way of providing them
    (every other failure set too: nothing gets past opening the database)."""
    return [
        Row(
            f"db-{kind}",
            provide,
            database,
            "500",
            "refuse-auth",
            "401",
            subprocess=(kind, provide) == ("wrong-password", "inline"),
        )
        for kind, database in DATABASE_FAILURES
        for provide in PROVIDES
    ]


# --- config mistakes next to the secrets -----------------------------------------------------


@dataclass
class Parts:
    """What a row's config is built from; a break may change any of it before it is written."""

    raw: dict[str, Any]
    provide: Provide
    db_scheme: str = "postgresql+psycopg"
    db_port: str = ""  # "" is the row's real port
    text: Callable[[str], str] = field(default=lambda text: text)


def _receiver(raw: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in raw["receivers"] if item["name"] == name)
    return found


def _slack(raw: dict[str, Any], name: str) -> dict[str, Any]:
    slack: dict[str, Any] = _receiver(raw, name)["slack"]
    return slack


def _misspell_password(parts: Parts) -> None:
    smtp = parts.raw["smtp"]
    for key in [key for key in smtp if key.startswith("password")]:
        smtp[key.replace("password", "pasword", 1)] = smtp.pop(key)


def _token_in_a_list(parts: Parts) -> None:
    source = parts.raw["sources"][-1]
    source.pop("token", None)
    if parts.provide == "file":
        source["token_file"] = [FILE_NAMES["source_token"]]
    else:
        source["token"] = [reference(SOURCE_TOKEN, parts.provide, "source_token")]


def _unterminated_password(text: str) -> str:
    # a YAML syntax error on the line of the SMTP password (or of its *_file twin)
    return re.sub(r"(?m)^(\s*password(?:_file)?: )(.*)$", r'\1"\2', text, count=1)


def _set(parts: Parts, **changes: Any) -> None:
    for name, value in changes.items():
        setattr(parts, name, value)


BREAKS: dict[str, Callable[[Parts], None]] = {
    "smtp-port-not-a-number": lambda p: p.raw["smtp"].update(port="not-a-port"),
    "smtp-sender-not-an-address": lambda p: p.raw["smtp"].update(sender="postmaster"),
    "smtp-password-key-misspelt": _misspell_password,
    "smtp-port-is-the-password": lambda p: p.raw["smtp"].update(
        port=reference(SMTP_PASSWORD, p.provide, "smtp_password")
    ),
    "timezone-is-the-smtp-password": lambda p: p.raw.update(
        timezone=reference(SMTP_PASSWORD, p.provide, "smtp_password")
    ),
    "default-receiver-is-the-bot-token": lambda p: p.raw.update(
        default_receiver=reference(BOT_TOKEN, p.provide, "token")
    ),
    "slack-api-url-not-a-string": lambda p: _slack(p.raw, "analytics").update(api_url=42),
    "slack-token-without-channel": lambda p: _slack(p.raw, "analytics").pop("channel"),
    "slack-webhook-over-plain-http": lambda p: p.raw["http"].update(allow_private_networks=False),
    "slack-webhook-and-its-file": lambda p: _slack(p.raw, "platform").update(
        webhook_url_file=FILE_NAMES["webhook_url"], webhook_url="https://hooks.slack.com" + WEBHOOK_PATH
    ),
    "receivers-a-mapping": lambda p: p.raw.update(receivers=_receiver(p.raw, "platform")),
    "source-max-bytes-not-a-number": lambda p: p.raw["sources"][-1].update(max_bytes="lots"),
    "source-token-in-a-list": _token_in_a_list,
    "env-unset-next-to-secrets": lambda p: p.raw["smtp"].update(username="${SW_LEAK_NOT_SET}"),
    "database-port-not-a-number": lambda p: _set(p, db_port="notaport"),
    "database-dialect-mysql": lambda p: _set(p, db_scheme="mysql"),
    "yaml-syntax-error-at-the-password": lambda p: _set(p, text=_unterminated_password),
}


def _config_rows() -> list[Row]:
    # the database URL carries its password (the server is a closed port: never reached); each
    # mistake runs every command in one way of providing the secrets, in turn
    return [
        Row(
            f"config-{name}",
            provide,
            "postgres-closed-port",
            broken=name,
            every_command=provide == PROVIDES[index % len(PROVIDES)],
        )
        for index, name in enumerate(BREAKS)
        for provide in PROVIDES
    ]


ROWS: list[Row] = _runtime_rows() + _database_rows() + _config_rows()
