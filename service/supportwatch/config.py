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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
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

from supportwatch.compatibility import ChartUpgrade, CompatRule, Incompatibility, Rules
from supportwatch.errors import ConfigError
from supportwatch.models import Deployment
from supportwatch.policy import MaintenancePolicy
from supportwatch.versions import AgentVersion, ImageRef, ImageTag, RuntimeVersion

SECRET_KEYS = frozenset({"password", "token", "webhook_url", "database_url"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Kubernetes DNS-1123 label; Helm release names use the same characters (max 53)
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
AGENT_REPOSITORY_NAME = "astro-remote-execution-agent"
AGENT_REPOSITORY = f"images.astronomer.cloud/baseimages/{AGENT_REPOSITORY_NAME}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    allow_private_networks: bool = False
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    deadline_seconds: float = Field(default=120.0, gt=0)
    max_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    user_agent: str = "supportwatch/0.1 (+https://github.com/supportwatch)"


class SourceHealthSettings(_Model):
    """When a source counts as stale, and how far sources may disagree on a release date."""

    stale_failures: int = Field(default=3, ge=1, le=1000)
    stale_hours: float = Field(default=24.0, gt=0)
    date_conflict_days: int = Field(default=1, ge=0, le=365)


class PolicySettings(_Model):
    id: str = "agent-maintenance-policy"
    wording: str = (
        "Each Remote Execution Agent minor version is maintained for 6 months from its initial .0 release."
    )
    maintenance_months: int = Field(default=6, ge=1, le=120)
    latest_minor_supported: bool = True
    behind_grace_days: int = Field(default=7, ge=0, le=365)
    reminder_days: list[int] = Field(default_factory=lambda: [60, 30, 14, 7, 1])

    @field_validator("reminder_days")
    @classmethod
    def _rungs(cls, value: list[int]) -> list[int]:
        if any(rung <= 0 for rung in value):
            raise ValueError(f"{value!r} has a rung <= 0; reminder days are positive day counts")
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
    component: Literal["agent", "chart", "runtime"]
    version: str
    released_on: date | None = None
    app_version: str | None = None
    image_tags: list[Annotated[str, AfterValidator(_image_tag)]] = Field(default_factory=list)
    channel: str = "stable"
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
    interval_minutes: int = Field(default=60, ge=1)

    _name = field_validator("name")(_name)


class StaticSource(_SourceBase):
    kind: Literal["static"]
    releases: list[StaticRelease] = Field(default_factory=list)


class _HttpSource(_SourceBase):
    url: str
    token: SecretStr | None = None
    max_bytes: int | None = Field(default=None, gt=0)  # None: http.max_bytes

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
    timeout_seconds: float = Field(default=30.0, gt=0)


class NotifySettings(_Model):
    """How notifications are delivered, retried, repeated and digested (DESIGN §3 steps 3-4)."""

    repeat_interval_days: int = Field(default=7, ge=1, le=365)
    give_up_hours: float = Field(default=48.0, gt=0)
    lease_seconds: int = Field(default=600, ge=1)
    retry_backoff_seconds: float = Field(default=2.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=60.0, gt=0)
    attempts_per_run: int = Field(default=3, ge=1, le=20)
    slack_rate_per_second: float = Field(default=1.0, gt=0, le=100)
    timeout_seconds: float = Field(default=10.0, gt=0)
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

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
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


class _UniqueKeyLoader(yaml.CSafeLoader):
    """The C safe loader, refusing duplicate mapping keys (the last would silently win)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
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


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"config file {str(path)!r} does not exist; pass --config PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"config file {str(path)!r} cannot be read: {exc}") from None
    if text.lstrip()[:1] in ("{", "["):
        # YAML is a superset of JSON; generated fleet files parse ten times faster as JSON
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError:
            pass
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{str(path)!r} is not valid YAML: {exc}") from None


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


def _interpolate(value: Any, path: Loc, base: Path) -> Any:
    if isinstance(value, str):
        return _substitute(value, path)
    if isinstance(value, list):
        return [_interpolate(item, (*path, index), base) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return _interpolate_mapping(value, path, base)
    return value


def _substitute(value: str, path: Loc) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name not in os.environ:
            raise ConfigError(format_path(path), f"environment variable {name} is not set; export {name}=...")
        return os.environ[name]

    return _ENV_REF.sub(replace, value)


def _interpolate_mapping(value: dict[Any, Any], path: Loc, base: Path) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, item in value.items():
        key_path = (*path, str(key))
        if isinstance(key, str) and key.endswith("_file") and key[: -len("_file")] in SECRET_KEYS:
            secret_key = key[: -len("_file")]
            if secret_key in value:
                raise ConfigError(format_path(key_path), f"set either {secret_key} or {key}, not both")
            result[secret_key] = _read_secret_file(_substitute(str(item), key_path), key_path, base)
        else:
            result[key] = _interpolate(item, key_path, base)
    return result


def _read_secret_file(name: str, path: Loc, base: Path) -> str:
    file = (base / name).resolve()
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            format_path(path), f"secret file {name!r} cannot be read ({exc.strerror})"
        ) from None


def _deployment_name(items: Any, index: int) -> object:
    """The raw ``name`` of deployment ``index`` in ``items``, if it has one (for error paths)."""
    item = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    return item.get("name") if isinstance(item, dict) else None


def _interpolate_deployments(items: Any, file: str, base: Path) -> Any:
    """Interpolate a deployments list; an error names ``file``, the index and the deployment."""
    if not isinstance(items, list):
        return _interpolate(items, ("deployments",), base)
    return [
        _interpolate(item, (DeploymentAt(file, index, _deployment_name(items, index)),), base)
        for index, item in enumerate(items)
    ]


_ABSENT: Any = object()


def _inline_deployments(raw: dict[str, Any], inline: Any, config_name: str, base: Path) -> str:
    """Put the interpolated deployments into ``raw``; return the name of the file they are in.

    ``inline`` is the config file's own ``deployments`` (``_ABSENT`` if it has none); a
    ``deployments_file`` is read relative to ``base``, the config file's directory.
    """
    name = raw.pop("deployments_file", None)
    if name is None:
        if inline is not _ABSENT:
            raw["deployments"] = _interpolate_deployments(inline, config_name, base)
        return config_name
    if inline is not _ABSENT:
        raise ConfigError("deployments_file", "set either deployments or deployments_file, not both")
    if not isinstance(name, str):
        raise ConfigError("deployments_file", f"{name!r} is not a file name")
    raw["deployments"] = _interpolate_deployments(_read_deployments_file(base, name), name, base)
    return name


def _read_deployments_file(base: Path, name: str) -> Any:
    """The deployments listed in ``name``: a list, or a mapping holding only ``deployments``."""
    file = base / name
    if not file.is_file():
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


def _validation_error(
    exc: ValidationError, deployments_file: str = "", deployments: Any = None
) -> ConfigError:
    """The first validation error as a ConfigError; ``deployments`` is the raw list, for names."""
    error = exc.errors(include_url=False)[0]
    loc = _error_loc(error["loc"], deployments_file, deployments)
    path = format_path(loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return ConfigError(path, "unknown key; check its spelling against the documented config keys")
    if error["type"] == "missing":
        return ConfigError(path, "is required but missing")
    if loc and isinstance(loc[-1], str) and loc[-1] in SECRET_KEYS:
        return ConfigError(path, message)
    value = error.get("input")
    shown = repr(value)
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
    ``deployments``, else the ``deployments_file``), its index and its name.
    """
    file = Path(path)
    raw = _read_mapping(file)
    base = file.resolve().parent
    inline = raw.pop("deployments", _ABSENT)
    raw = _interpolate(raw, (), base)
    deployments_file = _inline_deployments(raw, inline, file.name, base)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, deployments_file, raw.get("deployments")) from None
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


def redact_url(url: str) -> str:
    """A database or source URL with any password replaced by ``***``."""
    return re.sub(r"(//[^:/@]+:)[^@/]+@", r"\1***@", url)
