"""The typed settings tree and ``load_settings(path)``.

The YAML file (DESIGN §7) is read with PyYAML's C loader (duplicate keys refused), every
``${ENV_NAME}`` is replaced from the environment, secret keys accept a ``*_file`` twin, and
the tree is validated by pydantic. Any problem raises ``ConfigError`` naming the key path
(``deployments[2].image``), the value (never a secret's) and what is expected. A problem in one
deployment also names the file it is in and the deployment's name:
``deployments.yaml: deployments[2] (prod-west).image``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from supportwatch.compatibility import ChartUpgrade, CompatRule, Incompatibility, Rules
from supportwatch.errors import ConfigError
from supportwatch.policy import MaintenancePolicy
from supportwatch.values import Deployment
from supportwatch.versions import AgentVersion, ImageRef, ImageTag, RuntimeVersion

SECRET_KEYS = frozenset({"password", "token", "webhook_url", "database_url"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Kubernetes DNS-1123 label; Helm release names use the same characters (max 53)
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
AGENT_REPOSITORY_NAME = "astro-remote-execution-agent"
AGENT_REPOSITORY = f"images.astronomer.cloud/baseimages/{AGENT_REPOSITORY_NAME}"


class _Model(BaseModel):
    # inf and nan are refused everywhere: a bound like le=... must hold for every float setting
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid name; use letters, digits, '.', '_' and '-' (max 128)")
    return value


def _agent_version(value: str | None) -> str | None:
    if value is not None:
        AgentVersion.parse(value)
    return value


def _runtime_version(value: str | None) -> str | None:
    if value is not None:
        RuntimeVersion.parse(value)
    return value


def _image_tag(value: str) -> str:
    ImageTag.parse(value)
    return value


def _agent_image(value: str) -> ImageRef:
    """Parse an image reference whose repository's last path segment is the agent's."""
    ref = ImageRef.parse(value)
    if ref.repository.rsplit("/", 1)[-1] != AGENT_REPOSITORY_NAME:
        raise ValueError(
            f"repository {ref.repository!r} is not an agent image repository; agent images live in a "
            f"repository named {AGENT_REPOSITORY_NAME!r}: use {AGENT_REPOSITORY} or a mirror whose "
            f"path ends in /{AGENT_REPOSITORY_NAME}"
        )
    return ref


def _dns_label(value: str | None, *, what: str, max_length: int) -> str | None:
    """Refuse what is not a DNS-1123 label: the value is pasted into kubectl and helm commands."""
    if value is not None and not (len(value) <= max_length and _DNS_LABEL.fullmatch(value)):
        raise ValueError(
            f"must be {what}: lower-case letters, digits and '-', starting and ending with a letter or "
            f"digit, at most {max_length} characters"
        )
    return value


def _namespace(value: str | None) -> str | None:
    return _dns_label(value, what="a Kubernetes namespace (a DNS-1123 label)", max_length=63)


def _release(value: str | None) -> str | None:
    return _dns_label(value, what="a Helm release name", max_length=53)


def _specifier(value: str) -> str:
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(
            f"{value!r} is not a version specifier; expected e.g. '==1.5.0' or '>=2.0.0'"
        ) from None
    return value


class HttpSettings(_Model):
    """The source fetcher's limits and its address guard.

    ``allow_networks`` (``[127.0.0.0/8, fd12::/64]``) lists the non-public networks sources
    may be fetched from; link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
    100.100.100.200, fd00:ec2::254) only when a listed network holds them.
    ``allow_private_networks: true`` (kept for older configs) allows every non-public address
    except those link-local and metadata ones.
    """

    allow_private_networks: bool = False
    allow_networks: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    deadline_seconds: float = Field(default=120.0, gt=0, le=3600)
    max_bytes: int = Field(default=64 * 1024 * 1024, gt=0, le=1024 * 1024 * 1024)
    retries: int = Field(default=3, ge=0, le=10)
    user_agent: str = "supportwatch/0.1 (+https://github.com/supportwatch)"

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        networks: list[Any] = []
        for item in value:
            if not isinstance(item, str):
                networks.append(item)
                continue
            text = item.strip()
            try:
                networks.append(IPv6Network(text) if ":" in text else IPv4Network(text))
            except ValueError as exc:
                raise ValueError(
                    f"{item!r} is not a network ({exc}); write a network address and prefix, "
                    "such as 127.0.0.0/8 or fd12:3456::/64"
                ) from None
        return networks


class SourceHealthSettings(_Model):
    """When a source counts as stale, and how far sources may disagree on a release date."""

    stale_failures: int = Field(default=3, ge=1, le=1000)
    stale_hours: float = Field(default=24.0, gt=0, le=24 * 366)
    date_conflict_days: int = Field(default=1, ge=0, le=365)


MAX_REMINDER_DAYS = 3660


class PolicySettings(_Model):
    id: str = "agent-maintenance-policy"
    wording: str = (
        "Each Remote Execution Agent minor version is maintained for 6 months from its initial .0 release."
    )
    maintenance_months: int = Field(default=6, ge=1, le=120)
    latest_minor_supported: bool = True
    behind_grace_days: int = Field(default=7, ge=0, le=365)
    reminder_days: list[int] = Field(default_factory=lambda: [60, 30, 14, 7, 1], max_length=100)

    @field_validator("reminder_days")
    @classmethod
    def _rungs(cls, value: list[int]) -> list[int]:
        if any(rung <= 0 for rung in value):
            raise ValueError(f"{value!r} has a rung <= 0; reminder days are positive day counts")
        if any(rung > MAX_REMINDER_DAYS for rung in value):
            raise ValueError(
                f"{value!r} has a rung over {MAX_REMINDER_DAYS}; reminder days are at most "
                f"{MAX_REMINDER_DAYS} (10 years)"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"{value!r} repeats a rung; list each day count once")
        return sorted(value, reverse=True)

    def to_policy(self) -> MaintenancePolicy:
        return MaintenancePolicy(
            id=self.id,
            wording=self.wording,
            maintenance_months=self.maintenance_months,
            latest_minor_supported=self.latest_minor_supported,
            behind_grace_days=self.behind_grace_days,
            reminder_days=tuple(self.reminder_days),
        )


class CompatibilityRule(_Model):
    """Charts matching ``chart`` support agents matching any of ``agent`` (PEP 440 specifiers)."""

    chart: str
    agent: list[str] = Field(min_length=1)

    _chart = field_validator("chart")(_specifier)

    @field_validator("agent")
    @classmethod
    def _agents(cls, value: list[str]) -> list[str]:
        return [_specifier(item) for item in value]


class KnownIncompatibility(_Model):
    execution_runtime: str
    orchestration_runtime: str
    agent: str | None = None
    note: str = ""

    _runtimes = field_validator("execution_runtime", "orchestration_runtime")(_runtime_version)

    @field_validator("agent")
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return None if value is None else _specifier(value)


class ChartUpgradeSettings(_Model):
    """Upgrading to chart ``to`` (or later) from an older major is breaking; ``steps`` say how."""

    to: str
    steps: list[str] = Field(min_length=1)

    _to = field_validator("to")(_agent_version)


DEFAULT_CHART_UPGRADES = [
    # The vendor's chart 1.x -> 2.x steps in full; {namespace}, {release}, {version} and {chart}
    # are filled in from the deployment and its target.
    ChartUpgradeSettings(
        to="2.0.0",
        steps=[
            "Update values.yaml to the v2 format: download the latest values.yaml from the Astro UI, "
            "note that sentinel.enabled now defaults to true, and remove every `key: ~` (v2 refuses "
            "nullable keys)",
            "Delete the worker Deployments: `kubectl delete deployment -l component=worker -n {namespace}` "
            "(worker pods stop briefly; dag processing and the triggerer are unaffected)",
            "Delete the worker Services: `kubectl delete svc -l component=worker -n {namespace}`",
            "Upgrade the release: `helm repo update`, then `helm upgrade {release} {chart} --version "
            "{version} --namespace {namespace} --values values.yaml`",
        ],
    )
]


class StaticRelease(_Model):
    # the lengths are the catalog's columns (tables.py)
    component: Literal["agent", "chart", "runtime"]
    version: str = Field(max_length=64)
    released_on: date | None = None
    app_version: str | None = Field(default=None, max_length=64)
    image_tags: list[Annotated[str, AfterValidator(_image_tag)]] = Field(default_factory=list)
    channel: str = Field(default="stable", max_length=32)
    yanked: bool = False

    @field_validator("version")
    @classmethod
    def _version(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("component") == "runtime":
            RuntimeVersion.parse(value)
        else:
            AgentVersion.parse(value)
        return value


class _SourceBase(_Model):
    name: str
    enabled: bool = True
    interval_minutes: int = Field(default=60, ge=1, le=30 * 24 * 60)  # at most 30 days

    _name = field_validator("name")(_name)


class StaticSource(_SourceBase):
    kind: Literal["static"]
    releases: list[StaticRelease] = Field(default_factory=list)


class _HttpSource(_SourceBase):
    url: str = Field(max_length=2048)
    token: SecretStr | None = None
    # None: http.max_bytes; at most 1 GiB
    max_bytes: int | None = Field(default=None, gt=0, le=1024 * 1024 * 1024)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class HelmSource(_HttpSource):
    kind: Literal["helm"]
    chart: str = "astro-remote-execution-agent"


class FeedSource(_HttpSource):
    kind: Literal["feed"]
    component: Literal["agent", "chart", "runtime"] = "agent"
    version_pattern: str | None = None
    date_pattern: str | None = None

    @field_validator("version_pattern", "date_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return value


class AstroUpdatesSource(_HttpSource):
    kind: Literal["astro_updates"]
    component: Literal["agent", "runtime"] = "agent"
    channels: list[str] = Field(default_factory=lambda: ["stable"], min_length=1)


SourceSettings = Annotated[
    StaticSource | HelmSource | FeedSource | AstroUpdatesSource, Field(discriminator="kind")
]
SOURCE_KINDS = ("static", "helm", "feed", "astro_updates")


class DeploymentSettings(_Model):
    name: str
    team: str
    image: str
    chart_version: str | None = None
    orchestration_runtime: str | None = None
    platform: str = "linux"
    namespace: str | None = None
    release: str | None = None

    _names = field_validator("name", "team")(_name)
    _chart = field_validator("chart_version")(_agent_version)
    _runtime = field_validator("orchestration_runtime")(_runtime_version)
    _namespace_label = field_validator("namespace")(_namespace)
    _release_name = field_validator("release")(_release)

    _image_ref: ImageRef | None = PrivateAttr(default=None)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        """An agent image: a tag in the vendor's formats in an astro-remote-execution-agent repository."""
        _agent_image(value)
        return value

    @model_validator(mode="after")
    def _parsed(self) -> DeploymentSettings:
        self._image_ref = ImageRef.parse(self.image)
        return self

    def to_deployment(self) -> Deployment:
        return Deployment(
            name=self.name,
            team=self.team,
            image=self._image_ref or ImageRef.parse(self.image),
            chart_version=AgentVersion.parse(self.chart_version) if self.chart_version else None,
            orchestration_runtime=(
                RuntimeVersion.parse(self.orchestration_runtime) if self.orchestration_runtime else None
            ),
            platform=self.platform,
            namespace=self.namespace,
            helm_release=self.release,
        )


class SlackSettings(_Model):
    webhook_url: SecretStr | None = None
    token: SecretStr | None = None
    channel: str | None = None
    api_url: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> SlackSettings:
        if (self.webhook_url is None) == (self.token is None):
            raise ValueError("set exactly one of webhook_url or token (with channel)")
        if self.token is not None and not self.channel:
            raise ValueError("a bot token needs a channel, e.g. channel: '#agent-alerts'")
        return self


def _email_address(value: str) -> str:
    """A plain ``local@domain`` address; an international domain is stored in its ASCII form."""
    if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+", value):
        raise ValueError(f"{value!r} is not an email address; expected local@domain")
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        raise ValueError(f"{value!r} has a non-ASCII local part, which needs SMTPUTF8; use an ASCII address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} has a domain that is not a valid host name") from None
    return f"{local}@{ascii_domain}"


class EmailSettings(_Model):
    to: list[Annotated[str, AfterValidator(_email_address)]] = Field(min_length=1)


class ReceiverSettings(_Model):
    name: str
    slack: SlackSettings | None = None
    email: EmailSettings | None = None

    _name = field_validator("name")(_name)


class RouteMatch(_Model):
    team: str


class RouteSettings(_Model):
    match: RouteMatch
    receiver: str


class SmtpSettings(_Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: Annotated[str, AfterValidator(_email_address)]
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class NotifySettings(_Model):
    """How notifications are delivered, retried, repeated and digested (DESIGN §3 steps 3-4)."""

    repeat_interval_days: int = Field(default=7, ge=1, le=365)
    give_up_hours: float = Field(default=48.0, gt=0, le=24 * 366)
    lease_seconds: int = Field(default=600, ge=1, le=24 * 3600)
    retry_backoff_seconds: float = Field(default=2.0, gt=0, le=3600)
    retry_backoff_max_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    attempts_per_run: int = Field(default=3, ge=1, le=20)
    slack_rate_per_second: float = Field(default=1.0, ge=0.01, le=100)
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    digest_weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = (
        "monday"
    )
    digest_hour: int = Field(default=9, ge=0, le=23)
    digest_horizon_days: int = Field(default=90, ge=1, le=3660)

    @model_validator(mode="after")
    def _backoff(self) -> NotifySettings:
        if self.retry_backoff_max_seconds < self.retry_backoff_seconds:
            raise ValueError(
                f"retry_backoff_max_seconds {self.retry_backoff_max_seconds!r} is below "
                f"retry_backoff_seconds {self.retry_backoff_seconds!r}; the cap must be at least the base"
            )
        return self


class ScheduleSettings(_Model):
    """How often the service's jobs run; each source polls at its own ``interval_minutes``."""

    notify_minutes: int = Field(default=15, ge=1, le=24 * 60)
    digest_check_minutes: int = Field(default=60, ge=1, le=24 * 60)
    leader_retry_seconds: float = Field(default=30.0, ge=1, le=3600)


class WebSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


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


class Settings(_Model):
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
    smtp: SmtpSettings | None = None
    notify: NotifySettings = Field(default_factory=NotifySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)

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
        return self.policy.to_policy()

    def deployment_values(self) -> list[Deployment]:
        return [item.to_deployment() for item in self.deployments]

    def rules(self) -> Rules:
        """The compatibility facts as pure values for the checks."""
        return Rules(
            compatibility=tuple(
                CompatRule(SpecifierSet(rule.chart), tuple(SpecifierSet(spec) for spec in rule.agent))
                for rule in self.compatibility
            ),
            incompatibilities=tuple(
                Incompatibility(
                    execution_runtime=RuntimeVersion.parse(item.execution_runtime),
                    orchestration_runtime=RuntimeVersion.parse(item.orchestration_runtime),
                    agent=SpecifierSet(item.agent) if item.agent else None,
                    note=item.note,
                )
                for item in self.known_incompatibilities
            ),
            chart_upgrades=tuple(
                ChartUpgrade(AgentVersion.parse(item.to), tuple(item.steps)) for item in self.chart_upgrades
            ),
        )

    def source_priority(self) -> list[str]:
        """Source names, most trusted first: the order they are listed in."""
        return [source.name for source in self.sources]


# --- loading ------------------------------------------------------------------------------


MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_SECRET_BYTES = 64 * 1024
MAX_NESTING = 64
_NO_ALIASES = "YAML anchors and aliases are not supported in the config; write the values out"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _too_deep(where: str) -> ConfigError:
    return ConfigError(
        where,
        f"nested deeper than {MAX_NESTING} levels; the config needs only a few levels of mappings and lists",
    )


class _UniqueKeyLoader(yaml.CSafeLoader):
    """The C safe loader, refusing duplicate mapping keys (the last would silently win).

    Before anything is constructed, the node tree is checked: no aliases (a node reached twice:
    "billion laughs" grows without bound), no merge keys, no list or mapping as a key, and no
    deeper than ``MAX_NESTING``. A scalar that does not construct (year 0, an int of 5000
    digits) is a ConfigError naming its line.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        _check_nodes(node)
        return super().construct_document(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            kind = node.tag.rsplit(":", 1)[-1]
            expected = (
                "a date YYYY-MM-DD with a year from 1 to 9999" if kind == "timestamp" else "a valid value"
            )
            reason = str(exc)
            if isinstance(node.value, str) and node.value and node.value in reason:
                reason = f"not a valid {kind}"  # the value may be a secret: it is never shown
            raise ConfigError(
                f"line {node.start_mark.line + 1}",
                f"cannot read this {'date' if kind == 'timestamp' else kind} ({reason}); write {expected}, "
                "or quote it to keep it as text",
            ) from None


def _check_nodes(root: yaml.Node) -> None:
    """Refuse aliases, merge keys, unhashable keys and deep nesting, without recursion."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        line = f"line {node.start_mark.line + 1}"
        if id(node) in seen:
            raise ConfigError(line, _NO_ALIASES)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and depth > MAX_NESTING:
            raise _too_deep(line)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    raise ConfigError(
                        f"line {key_node.start_mark.line + 1}",
                        f"{_NO_ALIASES} (merge keys '<<' are refused too)",
                    )
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError(
                        f"line {key_node.start_mark.line + 1}",
                        "a mapping key must be a plain value (a name or a number), not a list or mapping",
                    )
                stack.append((key_node, depth + 1))
                stack.append((value_node, depth + 1))


def _refuse_anchors(text: str) -> None:
    """Refuse any anchor or alias: a cheap scan of the parser's events when '&' or '*' occur."""
    if "&" not in text and "*" not in text:
        return
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            raise ConfigError(f"line {mark.line + 1}" if mark is not None else "", _NO_ALIASES)


def _check_depth(data: Any) -> None:
    """Refuse loaded data (from JSON) nested deeper than ``MAX_NESTING``, without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_NESTING:
                raise _too_deep("")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            mark = key_node.start_mark
            raise ConfigError(
                f"line {mark.line + 1}",
                "a mapping key must be a plain value (a name or a number), not a list or mapping",
            )
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError(f"line {mark.line + 1}", f"duplicate key {key!r}; each key may appear once")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ConfigError("", f"duplicate key {key!r}; each key may appear once")
        result[key] = value
    return result


def _read_regular_file(path: Path, limit: int, what: str, shown: str | None = None) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; messages call it ``shown``.

    Checked with ``os.stat`` before opening: a FIFO would block the open, and /dev/zero never ends.
    """
    what = f"{what} {(shown if shown is not None else str(path))!r}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError("", f"{what} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError("", f"{what} cannot be read ({_reason(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            "", f"{what} is not a regular file (a device, FIFO or directory); name a plain file"
        )
    if info.st_size > limit:
        raise ConfigError("", f"{what} is {info.st_size} bytes; the limit is {_size(limit)}")
    try:
        with path.open("rb") as handle:
            # read what stat saw (a buffer of `limit` bytes for every file would be wasteful), and
            # what a file growing meanwhile added, up to the limit
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(limit + 1 - len(data))
    except OSError as exc:
        raise ConfigError("", f"{what} cannot be read ({_reason(exc)})") from None
    if len(data) > limit:
        raise ConfigError("", f"{what} is larger than the limit of {_size(limit)}")
    return data


def _decode(data: bytes) -> str:
    """UTF-8 text with universal newlines (as ``Path.read_text`` gives); UnicodeDecodeError if not."""
    text = data.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def _read_yaml(path: Path) -> Any:
    try:
        data = _read_regular_file(path, MAX_CONFIG_BYTES, "config file")
    except ConfigError as exc:
        if "does not exist" in exc.message:
            raise ConfigError("", f"{exc.message}; pass --config PATH") from None
        raise
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "", f"config file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if text.lstrip()[:1] in ("{", "["):
        # YAML is a superset of JSON; generated fleet files parse ten times faster as JSON
        try:
            loaded = json.loads(text, object_pairs_hook=_unique_pairs)
        except RecursionError:
            raise _too_deep("") from None
        except json.JSONDecodeError:
            pass
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise ConfigError("", f"{str(path)!r} cannot be read as JSON: {exc}") from None
        else:
            _check_depth(loaded)
            return loaded
    try:
        _refuse_anchors(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{str(path)!r} is not valid YAML: {exc}") from None
    except RecursionError:
        raise _too_deep("") from None


@dataclass(frozen=True, slots=True)
class DeploymentAt:
    """One deployment as error paths name it: ``deployments.yaml: deployments[3] (prod-west)``.

    ``file`` is the file the deployment is written in; ``name`` is shown if it is a usable name.
    """

    file: str
    index: int
    name: object = None

    def __str__(self) -> str:
        label = f"deployments[{self.index}]"
        if isinstance(self.name, str) and _NAME.fullmatch(self.name):
            label += f" ({self.name})"
        return f"{self.file}: {label}" if self.file else label


Loc = tuple[str | int | DeploymentAt, ...]


def format_path(loc: Loc) -> str:
    """``("deployments", 2, "image")`` -> ``deployments[2].image``; a DeploymentAt names its file."""
    text = ""
    for part in loc:
        if isinstance(part, DeploymentAt):
            text += str(part)
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class _Seen:
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


def _interpolate(value: Any, path: Loc, base: Path, seen: _Seen, secret: bool = False) -> Any:
    """Replace ``${ENV}`` and read ``*_file`` twins; ``secret``: ``value`` is under a secret key."""
    if isinstance(value, str):
        text = _substitute(value, path, seen, secret)
        if secret:
            seen.secrets.add(text)
        return text
    if isinstance(value, list):
        return [_interpolate(item, (*path, index), base, seen, secret) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return _interpolate_mapping(value, path, base, seen, secret)
    if secret and value is not None and not isinstance(value, bool):
        seen.secrets.add(str(value))
    return value


def _substitute(value: str, path: Loc, seen: _Seen, secret: bool = False) -> str:
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
    value: dict[Any, Any], path: Loc, base: Path, seen: _Seen, secret: bool = False
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
            content = _read_secret_file(_substitute(item, key_path, seen), key_path, base)
            seen.secrets.add(content)
            result[secret_key] = content
        else:
            result[key] = _interpolate(item, key_path, base, seen, secret or key in SECRET_KEYS)
    return result


def _read_secret_file(name: str, path: Loc, base: Path) -> str:
    try:
        file = (base / name).resolve()
        data = _read_regular_file(file, MAX_SECRET_BYTES, "secret file", name)
    except ConfigError as exc:
        raise ConfigError(format_path(path), exc.message) from None
    except (OSError, ValueError, RuntimeError) as exc:  # resolve(): a NUL byte, a symlink loop
        raise ConfigError(
            format_path(path), f"secret file {name!r} cannot be read ({_reason(exc)})"
        ) from None
    try:
        return _decode(data).strip()
    except UnicodeDecodeError:
        raise ConfigError(
            format_path(path), f"secret file {name!r} is not UTF-8 text; write the secret as UTF-8 text"
        ) from None


def _deployment_name(items: Any, index: int) -> object:
    """The raw ``name`` of deployment ``index`` in ``items``, if it has one (for error paths)."""
    item = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    return item.get("name") if isinstance(item, dict) else None


def _interpolate_deployments(items: Any, file: str, base: Path, seen: _Seen) -> Any:
    """Interpolate a deployments list; an error names ``file``, the index and the deployment."""
    if not isinstance(items, list):
        return _interpolate(items, ("deployments",), base, seen)
    return [
        _interpolate(item, (DeploymentAt(file, index, _deployment_name(items, index)),), base, seen)
        for index, item in enumerate(items)
    ]


_ABSENT: Any = object()


def _inline_deployments(raw: dict[str, Any], inline: Any, config_name: str, base: Path, seen: _Seen) -> str:
    """Put the interpolated deployments into ``raw``; return the name of the file they are in.

    ``inline`` is the config file's own ``deployments`` (``_ABSENT`` if it has none); a
    ``deployments_file`` is read relative to ``base``, the config file's directory.
    """
    name = raw.pop("deployments_file", None)
    if name is None:
        if inline is not _ABSENT:
            raw["deployments"] = _interpolate_deployments(inline, config_name, base, seen)
        return config_name
    if inline is not _ABSENT:
        raise ConfigError("deployments_file", "set either deployments or deployments_file, not both")
    if not isinstance(name, str):
        raise ConfigError("deployments_file", f"{name!r} is not a file name")
    raw["deployments"] = _interpolate_deployments(_read_deployments_file(base, name), name, base, seen)
    return name


def _read_deployments_file(base: Path, name: str) -> Any:
    """The deployments listed in ``name``: a list, or a mapping holding only ``deployments``."""
    file = base / name
    if not os.path.lexists(file):
        raise ConfigError(
            "deployments_file",
            f"{name!r} does not exist (looked for {str(file)!r}); a relative name is read from "
            "the config file's directory",
        )
    try:
        loaded = _read_yaml(file)
    except ConfigError as exc:
        # "line 5: duplicate key ..." must say which file line 5 is in
        raise ConfigError(f"{name}: {exc.path}" if exc.path else name, exc.message) from None
    if isinstance(loaded, dict) and set(loaded) == {"deployments"}:
        loaded = loaded["deployments"]
    if not isinstance(loaded, list):
        raise ConfigError(
            "deployments_file", f"{name!r} must hold a list of deployments (or deployments: [...])"
        )
    return loaded


def _error_loc(loc: tuple[str | int, ...], deployments_file: str, deployments: Any) -> Loc:
    """Pydantic's error location without source-kind tags; a deployment is named with its file."""
    loc = tuple(part for part in loc if not (isinstance(part, str) and part in SOURCE_KINDS))
    if len(loc) >= 2 and loc[0] == "deployments" and isinstance(loc[1], int):
        at = DeploymentAt(deployments_file, loc[1], _deployment_name(deployments, loc[1]))
        return (at, *loc[2:])
    return loc


def _holds_secret(value: Any) -> bool:
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


def _shape(value: Any) -> str:
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


_STRUCTURE_ERRORS = frozenset(
    {
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        "union_tag_invalid",
        "union_tag_not_found",
    }
)


def _validation_error(
    exc: ValidationError, deployments_file: str = "", deployments: Any = None, seen: _Seen | None = None
) -> ConfigError:
    """The first validation error as a ConfigError; ``deployments`` is the raw list, for names.

    The value is shown only if it is no secret: nothing under a secret key, no mapping or list
    holding one, and no value ``seen`` marks (shown as ``***`` or ``${NAME}``).
    """
    error = exc.errors(include_url=False)[0]
    loc = _error_loc(error["loc"], deployments_file, deployments)
    path = format_path(loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return ConfigError(path, "unknown key; check its spelling against the documented config keys")
    if error["type"] == "missing":
        return ConfigError(path, "is required but missing")
    if any(isinstance(part, str) and part in SECRET_KEYS for part in loc):
        return ConfigError(path, message)
    value = error.get("input")
    if _holds_secret(value):
        return ConfigError(path, f"{message} (got {_shape(value)}; values not shown: they hold a secret)")
    if error["type"] in _STRUCTURE_ERRORS:
        # a mapping or list was expected: what stands there instead may be a secret written one
        # level too high (``slack: "https://hooks.slack.com/..."``), so say only what it is
        return ConfigError(path, f"{message} (got {_shape(value)})")
    # a validator may quote the value, e.g. a source URL with user:password@ in it
    message = redact_url(message)
    shown = redact_url((seen or _Seen()).scrub(repr(value)))
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    hint = ""
    if error["type"] == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        hint = "; YAML read it as a number: quote it"
    return ConfigError(path, f"{message} (got {shown}){hint}")


def _read_mapping(file: Path) -> dict[str, Any]:
    raw = _read_yaml(file)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"{str(file)!r} must hold a mapping of config keys at the top level")
    return raw


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read, interpolate and validate the config file at ``path``.

    Errors about one deployment name the file it is in (this file's name for inline
    ``deployments``, else the ``deployments_file``), its index and its name. No error shows a
    secret: values under secret keys and from ``*_file`` become ``***``, values from the
    environment their ``${NAME}``.
    """
    seen = _Seen()
    try:
        return _load_settings(Path(path), seen)
    except ConfigError as exc:
        raise seen.scrub_error(exc) from None


def _load_settings(file: Path, seen: _Seen) -> Settings:
    raw = _read_mapping(file)
    try:
        base = file.resolve().parent
    except (OSError, RuntimeError) as exc:
        raise ConfigError("", f"config file {str(file)!r} cannot be read ({_reason(exc)})") from None
    inline = raw.pop("deployments", _ABSENT)
    raw = _interpolate(raw, (), base, seen)
    deployments_file = _inline_deployments(raw, inline, file.name, base, seen)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, deployments_file, raw.get("deployments"), seen) from None
    check_references(settings, deployments_file)
    return settings


def check_references(settings: Settings, deployments_file: str = "") -> None:
    """Cross-key rules: unique names, routes to known receivers and teams, email needs smtp.

    ``deployments_file`` names the file the deployments are in, for error paths.
    """
    names = [item.name for item in settings.deployments]
    _unique(names, "deployments", "deployment name", lambda i: (DeploymentAt(deployments_file, i, names[i]),))
    _unique([item.name for item in settings.sources], "sources", "source name")
    _unique([item.name for item in settings.receivers], "receivers", "receiver name")
    receivers = {item.name for item in settings.receivers} | {"console"}
    teams = {item.team for item in settings.deployments}
    for index, route in enumerate(settings.routes):
        if route.receiver not in receivers:
            raise ConfigError(
                f"routes[{index}].receiver",
                f"{route.receiver!r} is not a receiver; known: {', '.join(sorted(receivers))}",
            )
        if route.match.team not in teams:
            raise ConfigError(
                f"routes[{index}].match.team",
                f"{route.match.team!r} is the team of no deployment; "
                f"known teams: {', '.join(sorted(teams)) or 'none'}",
            )
    if settings.default_receiver not in receivers:
        raise ConfigError(
            "default_receiver",
            f"{settings.default_receiver!r} is not a receiver; known: {', '.join(sorted(receivers))}",
        )
    for index, receiver in enumerate(settings.receivers):
        if receiver.email is not None and settings.smtp is None:
            raise ConfigError(
                f"receivers[{index}].email", "email receivers need an smtp: section (host, sender)"
            )
        if receiver.slack is not None:
            allow_http = settings.http.allow_private_networks
            if receiver.slack.webhook_url is not None:
                _check_slack_url(
                    receiver.slack.webhook_url.get_secret_value(),
                    f"receivers[{index}].slack.webhook_url",
                    "https://hooks.slack.com/services/...",
                    allow_http=allow_http,
                )
            if receiver.slack.api_url is not None:
                _check_slack_url(
                    receiver.slack.api_url,
                    f"receivers[{index}].slack.api_url",
                    "https://slack.com/api/",
                    allow_http=allow_http,
                )


def _check_slack_url(url: str, path: str, example: str, *, allow_http: bool) -> None:
    """A Slack URL must be https with a host (http only with http.allow_private_networks).

    The messages never show the URL: a webhook URL is a secret.
    """
    expected = f"expected an https:// URL with a host, e.g. {example} (the value is not shown)"
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ConfigError(path, f"holds whitespace or control characters; {expected}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(path, f"is not a URL; {expected}") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http:
        raise ConfigError(
            path,
            "uses http://, which sends the secret in clear text; use https:// (http is allowed only with "
            "http.allow_private_networks: true, for a local test server)",
        )
    if scheme not in ("https", "http"):
        raise ConfigError(path, f"has no https:// scheme; {expected}")
    if not host:
        raise ConfigError(path, f"has no host; {expected}")


def _unique(names: list[str], key: str, what: str, where: Callable[[int], Loc] | None = None) -> None:
    """Refuse a repeated name; ``where(index)`` locates an item (default ``key[index]``)."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            loc = where(index) if where else (key, index)
            raise ConfigError(
                format_path((*loc, "name")),
                f"duplicate {what} {name!r} (first at {key}[{seen[name]}]); names must be unique",
            )
        seen[name] = index


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
