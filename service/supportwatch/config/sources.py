"""Where releases come from: the source settings, the fetcher's limits and source health.

A source is ``static`` (releases written in the config), ``helm`` (a chart repository index),
``feed`` (release notes as RSS/Atom) or ``astro_updates`` (the vendor's version feed); the
config's ``kind`` picks the class.
"""

from __future__ import annotations

import re
from datetime import date
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from supportwatch.config.types import ConfigModel, ImageTagText, Name
from supportwatch.values import APP_VERSION_MAX, CHANNEL_MAX, VERSION_MAX, Release
from supportwatch.versions import AgentVersion, RuntimeVersion


class HttpSettings(ConfigModel):
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


class SourceHealthSettings(ConfigModel):
    """When a source counts as stale, and how far sources may disagree on a release date."""

    stale_failures: int = Field(default=3, ge=1, le=1000)
    stale_hours: float = Field(default=24.0, gt=0, le=24 * 366)
    date_conflict_days: int = Field(default=1, ge=0, le=365)


class StaticRelease(ConfigModel):
    """A release written in the config; its fields are ``values.Release``'s, bounded by the catalog's columns.

    The version and image tags are checked at load and kept as written: the catalog stores text.
    """

    component: Literal["agent", "chart", "runtime"]
    version: str = Field(max_length=VERSION_MAX)
    released_on: date | None = None
    app_version: str | None = Field(default=None, max_length=APP_VERSION_MAX)
    image_tags: list[ImageTagText] = Field(default_factory=list)
    channel: str = Field(default="stable", max_length=CHANNEL_MAX)
    yanked: bool = False

    @field_validator("version")
    @classmethod
    def _version(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("component") == "runtime":
            RuntimeVersion.parse(value)
        else:
            AgentVersion.parse(value)
        return value

    def to_release(self) -> Release:
        """The release as a source reports it (every field has the same name in ``Release``)."""
        return Release(**{**dict(self), "image_tags": tuple(self.image_tags)})


class _SourceBase(ConfigModel):
    name: Name
    enabled: bool = True
    interval_minutes: int = Field(default=60, ge=1, le=30 * 24 * 60)  # at most 30 days


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
