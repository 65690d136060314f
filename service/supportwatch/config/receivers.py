"""Who is told, and how: Slack and email receivers, routes by team, SMTP, and delivery tuning."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from supportwatch.config.types import ConfigModel, EmailAddress, Name

# printable text on one line: it goes into the From: header
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class SlackSettings(ConfigModel):
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


class EmailSettings(ConfigModel):
    to: list[EmailAddress] = Field(min_length=1)


DigestChannel = Literal["slack", "email"]


class DigestSettings(ConfigModel):
    """Where a receiver's weekly digest goes: by default, every channel the receiver configures."""

    channels: list[DigestChannel] = Field(min_length=1, max_length=2)

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[DigestChannel]) -> list[DigestChannel]:
        if len(set(value)) != len(value):
            raise ValueError(f"lists a channel twice ({', '.join(value)}); name each of slack, email once")
        return value


class ReceiverSettings(ConfigModel):
    name: Name
    slack: SlackSettings | None = None
    email: EmailSettings | None = None
    digest: DigestSettings | None = None


class RouteMatch(ConfigModel):
    team: str


class RouteSettings(ConfigModel):
    match: RouteMatch
    receiver: str


class SmtpSettings(ConfigModel):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: EmailAddress
    # the display name in From: ("supportwatch <supportwatch@example.com>")
    sender_name: DisplayName = "supportwatch"
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class NotifySettings(ConfigModel):
    """How notifications are delivered, retried, repeated and digested (DESIGN §3 steps 3-4)."""

    repeat_interval_days: int = Field(default=7, ge=1, le=365)
    give_up_hours: float = Field(default=48.0, gt=0, le=24 * 366)
    lease_seconds: int = Field(default=600, ge=1, le=24 * 3600)
    retry_backoff_seconds: float = Field(default=2.0, gt=0, le=3600)
    retry_backoff_max_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    attempts_per_run: int = Field(default=3, ge=1, le=20)
    slack_rate_per_second: float = Field(default=1.0, ge=0.01, le=100)
    # how many sends (to different channels) are under way at once; each channel is still paced
    # at slack_rate_per_second
    parallel_channels: int = Field(default=16, ge=1, le=64)
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
