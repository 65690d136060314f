"""The whole settings tree, and ``load_settings(path)``, the one way to build it.

The file is read (``loader``), ``${ENV}`` and ``*_file`` twins are filled in (``secrets``), the
deployments are put in place (``deployments``) and the tree is validated by pydantic; any
problem raises ``ConfigError`` naming the key path (``deployments[2].image``), the value (never
a secret's) and what is expected (``problems``). Cross-key rules come last (``references``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from sqlalchemy.engine import make_url

from supportwatch.compatibility import Rules
from supportwatch.config.deployments import ABSENT, DeploymentSettings, inline_deployments
from supportwatch.config.environment import apply_overrides, name_the_origin
from supportwatch.config.loader import MAX_SECRET_BYTES, decode, read_mapping, read_regular_file, reason
from supportwatch.config.policy import (
    DEFAULT_CHART_UPGRADES,
    ChartUpgradeSettings,
    CompatibilityRule,
    KnownIncompatibility,
    PolicySettings,
)
from supportwatch.config.problems import validation_error
from supportwatch.config.receivers import NotifySettings, ReceiverSettings, RouteSettings, SmtpSettings
from supportwatch.config.references import check_references
from supportwatch.config.secrets import Seen, interpolate
from supportwatch.config.sources import HttpSettings, SourceHealthSettings, SourceSettings
from supportwatch.config.types import ConfigModel
from supportwatch.errors import ConfigError
from supportwatch.policy import MaintenancePolicy
from supportwatch.values import Deployment

T = TypeVar("T")


class ScheduleSettings(ConfigModel):
    """How often the service's jobs run; each source polls at its own ``interval_minutes``."""

    notify_minutes: int = Field(default=15, ge=1, le=24 * 60)
    digest_check_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # a follower takes over within this after a leader dies (Alertmanager's peer timeout is 15 s)
    leader_retry_seconds: float = Field(default=10.0, ge=1, le=3600)


class LogSettings(ConfigModel):
    """How ``run`` logs: ``text`` lines for a terminal, ``json`` (one object a line) for collectors."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


MIN_READ_TOKEN_LENGTH = 16


@dataclass(frozen=True, slots=True)
class TokenFile:
    """A token file named in the config, read at load: its ``path`` (shown) and ``token`` (never)."""

    path: str
    token: SecretStr


def _read_token_file(value: object) -> TokenFile:
    """``web.read_token_file``: an absolute path (no config folder to be relative to here), read now."""
    if isinstance(value, TokenFile):
        return value
    if not isinstance(value, str) or not os.path.isabs(value):
        raise ValueError(
            "must be the absolute path of a file holding the read token, e.g. /run/secrets/read-token"
        )
    try:
        token = decode(read_regular_file(Path(value), MAX_SECRET_BYTES, "read token file")).strip()
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    except UnicodeDecodeError:
        raise ValueError("the read token file is not UTF-8 text; write the token as UTF-8 text") from None
    if len(token) < MIN_READ_TOKEN_LENGTH:
        raise ValueError(
            f"the read token file holds {len(token)} characters; a read token needs at least "
            f"{MIN_READ_TOKEN_LENGTH} (make one with `openssl rand -hex 24`)"
        )
    return TokenFile(value, SecretStr(token))


ReadTokenFile = Annotated[
    TokenFile, PlainValidator(_read_token_file), PlainSerializer(lambda item: item.path, return_type=str)
]


class WebSettings(ConfigModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # where people reach the dashboard (behind a proxy, say): notices and digests link each
    # deployment to {public_url}/deployments/{name}
    public_url: AnyHttpUrl | None = None
    # team calendar feeds (/calendar/{team}.ics): "off" serves them without a token; "optional"
    # also takes a team's token (`supportwatch calendar-token TEAM`) and refuses a wrong one;
    # "required" serves a team's feed only with its token, and /calendar.ics only with the read token
    calendar_tokens: Literal["off", "optional", "required"] = "off"
    # a file holding the token every page and API answer then needs (all but /healthz, /readyz,
    # /metrics): as `Authorization: Bearer ...`, or once as ?token= (a cookie keeps it)
    read_token_file: ReadTokenFile | None = None

    @field_validator("calendar_tokens", mode="before")
    @classmethod
    def _calendar_tokens(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads a bare `off` as false

    @property
    def read_token(self) -> SecretStr | None:
        """The read token from ``read_token_file`` (read when the config was loaded), or None."""
        return self.read_token_file.token if self.read_token_file is not None else None


MAX_TIMEZONE_LENGTH = 255
DATABASE_URL_FORMS = (
    "sqlite:///path/to/supportwatch.db or postgresql+psycopg://user:password@host:5432/database"
)


def _check_database_url(value: str) -> None:
    """Refuse a database URL this service cannot open; the messages never show the URL itself."""
    try:
        url = make_url(value)
    except Exception:  # ArgumentError, or ValueError for a port that is not a number
        raise ValueError(
            "is not a database URL SQLAlchemy can read: the port must be a number, and '@', ':' and '/' "
            "in the user name or password must be percent-encoded (%40, %3A, %2F); "
            f"expected {DATABASE_URL_FORMS}"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ValueError(
                f"the SQLite driver {driver!r} is not supported; use sqlite:///path/to/supportwatch.db"
            )
        return
    if backend not in ("postgresql", "postgres"):
        raise ValueError(f"the database dialect {backend!r} is not supported; use {DATABASE_URL_FORMS}")
    if backend != "postgresql" or driver != "psycopg":
        raise ValueError(
            f"a {url.drivername}:// URL is not supported; PostgreSQL needs the psycopg driver: "
            "postgresql+psycopg://user:password@host:5432/database"
        )
    if url.host is not None and "@" in url.host:
        raise ValueError(
            "the password holds an unencoded '@'; percent-encode it as %40 (and ':' as %3A, '/' as %2F)"
        )
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"port {url.port} is out of range; expected 1-65535")


class Settings(ConfigModel):
    """The whole configuration; build it with ``load_settings``."""

    database_url: str = "sqlite:///var/supportwatch.db"
    timezone: str = "UTC"
    http: HttpSettings = Field(default_factory=HttpSettings)
    source_health: SourceHealthSettings = Field(default_factory=SourceHealthSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    compatibility: list[CompatibilityRule] = Field(default_factory=list)
    known_incompatibilities: list[KnownIncompatibility] = Field(default_factory=list)
    chart_upgrades: list[ChartUpgradeSettings] = Field(default_factory=lambda: list(DEFAULT_CHART_UPGRADES))
    sources: list[SourceSettings] = Field(default_factory=list)
    deployments: list[DeploymentSettings] = Field(default_factory=list)
    receivers: list[ReceiverSettings] = Field(default_factory=list)
    routes: list[RouteSettings] = Field(default_factory=list)
    default_receiver: str = "console"
    # who is told about source_stale and date_conflict (None: the default receiver)
    data_health_receiver: str | None = None
    smtp: SmtpSettings | None = None
    notify: NotifySettings = Field(default_factory=NotifySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    # the demo's config says true: every page is labelled example data, and /demo/mail shows its mailbox
    example_data: bool = False
    # values built from the settings: see _cached
    _values: dict[str, tuple[tuple[object, ...], Any]] = PrivateAttr(default_factory=dict)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        _check_database_url(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if len(value) > MAX_TIMEZONE_LENGTH:
            raise ValueError(
                f"is {len(value)} characters long; an IANA time zone name has at most "
                f"{MAX_TIMEZONE_LENGTH}, e.g. UTC or Europe/Berlin"
            )
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; expected e.g. UTC or Europe/Berlin"
            ) from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def maintenance_policy(self) -> MaintenancePolicy:
        return self._cached("policy", (self.policy,), self.policy.to_policy)

    def deployment_values(self) -> list[Deployment]:
        """The tracked deployments as values (parsed at load; built once per settings object)."""
        values = self._cached(
            "deployments",
            (self.deployments,),
            lambda: tuple(item.to_deployment() for item in self.deployments),
        )
        return list(values)

    def rules(self) -> Rules:
        """The compatibility facts as pure values for the checks (one object: its memos last)."""
        return self._cached(
            "rules",
            (self.compatibility, self.known_incompatibilities, self.chart_upgrades),
            lambda: Rules(
                compatibility=tuple(rule.to_value() for rule in self.compatibility),
                incompatibilities=tuple(item.to_value() for item in self.known_incompatibilities),
                chart_upgrades=tuple(item.to_value() for item in self.chart_upgrades),
            ),
        )

    def _cached(self, name: str, sources: tuple[object, ...], build: Callable[[], T]) -> T:
        """``build()``, kept while the settings it reads (``sources``) are these very objects.

        A ``model_copy(update=...)`` shares this cache but replaces what it updates, so the
        identity check rebuilds what depends on a replaced section.
        """
        hit = self._values.get(name)
        if hit is None or any(a is not b for a, b in zip(hit[0], sources, strict=True)):
            hit = self._values[name] = (sources, build())
        value: T = hit[1]
        return value

    def source_priority(self) -> list[str]:
        """Source names, most trusted first: the order they are listed in."""
        return [source.name for source in self.sources]


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read, interpolate and validate the config file at ``path``.

    Errors about one deployment name the file it is in (this file's name for inline
    ``deployments``, else the ``deployments_file``), its index and its name. No error shows a
    secret: values under secret keys and from ``*_file`` become ``***``, values from the
    environment their ``${NAME}``.
    """
    seen = Seen()
    try:
        return _load_settings(Path(path), seen)
    except ConfigError as exc:
        raise seen.scrub_error(exc) from None


def _load_settings(file: Path, seen: Seen) -> Settings:
    raw = read_mapping(file)
    try:
        base = file.resolve().parent
    except (OSError, RuntimeError) as exc:
        raise ConfigError("", f"config file {str(file)!r} cannot be read ({reason(exc)})") from None
    inline = raw.pop("deployments", ABSENT)
    raw = interpolate(raw, (), base, seen)
    applied = apply_overrides(raw, os.environ, seen)
    try:
        deployments_file = inline_deployments(raw, inline, file.name, base, seen)
        try:
            settings = Settings.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc, deployments_file, raw.get("deployments"), seen, Settings) from None
        check_references(settings, deployments_file)
    except ConfigError as exc:
        raise name_the_origin(exc, applied) from None
    return settings
