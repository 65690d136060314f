"""The persisted tables (SQLModel): only the store modules import them.

Each table holds a value of ``values.py``; the column lengths are the bounds ``values.storable``
applies before anything is stored.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, Column, Engine, Index, Table, UniqueConstraint
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel

from supportwatch.columns import UTCDateTime
from supportwatch.values import (
    APP_VERSION_MAX,
    CHANNEL_MAX,
    COMPONENT_MAX,
    ERROR_MAX,
    ETAG_MAX,
    LAST_MODIFIED_MAX,
    SOURCE_NAME_MAX,
    URL_MAX,
    VERSION_MAX,
)


def table_of(model: Any) -> Table:
    """``model``'s Core table: an ORM-entity INSERT reports no reliable rowcount or RETURNING row."""
    return cast("Table", model.__table__)


def insert_for(engine: Engine, model: Any) -> Any:
    """The dialect's INSERT on ``model``'s Core table, which knows ``ON CONFLICT`` (SQLite and
    PostgreSQL spell it alike; SQLAlchemy offers it per dialect)."""
    table = table_of(model)
    if engine.dialect.name != "postgresql":
        return sqlite_insert(table)
    # imported when used: a SQLite deployment never loads the PostgreSQL dialect (2 MiB)
    from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

    return pg_insert(table)


def utc_column(*, nullable: bool = False) -> Any:
    """A column of aware UTC datetimes."""
    return Column(UTCDateTime(), nullable=nullable)


class ReleaseFacts(SQLModel):
    """The facts about one release beyond its name, as columns: one definition for two tables.

    ``ReleaseRow`` holds the reconciled facts, ``ObservationRow`` each source's claim; the
    store compares, copies and reconciles them by these field names (``RELEASE_FACTS``).
    (The models list these columns first; the migrations lay the tables out.)
    """

    released_on: date | None = None
    app_version: str | None = Field(default=None, max_length=APP_VERSION_MAX)
    channel: str = Field(default="stable", max_length=CHANNEL_MAX)
    yanked: bool = False
    # sa_type, not sa_column: one Column object cannot belong to both tables
    image_tags: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)


RELEASE_FACTS: tuple[str, ...] = tuple(ReleaseFacts.model_fields)


class ReleaseRow(ReleaseFacts, table=True):
    """The reconciled catalog: one row per (component, version), never deleted."""

    __tablename__ = "release"
    __table_args__ = (
        UniqueConstraint("component", "version", name="uq_release_component_version"),
        # the store's revision reads the newest updated_at on every request: an index, not a scan
        Index("ix_release_updated_at", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    component: str = Field(max_length=COMPONENT_MAX, index=True)
    version: str = Field(max_length=VERSION_MAX)
    first_seen_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class ObservationRow(ReleaseFacts, table=True):
    """Provenance: what each source last claimed about each version, and when."""

    __tablename__ = "release_observation"
    __table_args__ = (
        UniqueConstraint("component", "version", "source", name="uq_observation_component_version_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    component: str = Field(max_length=COMPONENT_MAX)
    version: str = Field(max_length=VERSION_MAX)
    source: str = Field(max_length=SOURCE_NAME_MAX, index=True)
    url: str | None = Field(default=None, max_length=URL_MAX)
    first_seen_at: datetime = Field(sa_column=utc_column())
    seen_at: datetime = Field(sa_column=utc_column())


class SourceStateRow(SQLModel, table=True):
    """One row per source: validators for conditional GET and data health."""

    __tablename__ = "source_state"

    name: str = Field(primary_key=True, max_length=SOURCE_NAME_MAX)
    configured_url: str | None = Field(default=None, max_length=URL_MAX)
    url: str | None = Field(default=None, max_length=URL_MAX)
    etag: str | None = Field(default=None, max_length=ETAG_MAX)
    last_modified: str | None = Field(default=None, max_length=LAST_MODIFIED_MAX)
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, max_length=ERROR_MAX)
    disabled: bool = False
    release_count: int = 0


class DeliveryRow(SQLModel, table=True):
    """The delivery log: one row per (target, key); the unique key makes a double send impossible.

    ``target`` is ``receiver/integration`` (``data-platform/slack``); ``key`` is a
    ``notify.log.DeliveryKey`` as text, ``state`` a ``notify.log.DeliveryState`` value;
    ``payload`` holds what to send (``notify.payload``), so a retry or a resumed claim re-sends
    exactly the original message. ``thread`` names the conversation a notice belongs to (a
    finding's reminders, repeats and resolution share one) and ``external_id`` is what the
    server called the message that carried the row (a Slack ``ts``, an email's Message-ID):
    the first one of a thread is where the later ones reply.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("target", "key", name="uq_delivery_target_key"),
        Index("ix_delivery_target_thread", "target", "thread"),
    )

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=160)
    key: str = Field(max_length=512)
    state: str = Field(max_length=16, index=True)
    attempts: int = 0
    created_at: datetime = Field(sa_column=utc_column())
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=2000)
    summary: str = Field(default="", max_length=512)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    thread: str | None = Field(default=None, max_length=512)
    external_id: str | None = Field(default=None, max_length=255)


class AckRow(SQLModel, table=True):
    """An acknowledged finding: silenced until ``until`` (or forever if None) or until its key changes."""

    __tablename__ = "ack"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_ack_dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=512)
    until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
    note: str = Field(default="", max_length=512)


class FindingStateRow(SQLModel, table=True):
    """Every finding seen by a notify or digest run: open (resolved_at None) or resolved.

    ``superseded`` marks a finding replaced by another of the same family on the same
    deployment (rung 30 -> rung 14): it ended, but nothing was fixed, so no "resolved" goes out.
    """

    __tablename__ = "finding_state"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_finding_state_dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=512)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    deployment: str = Field(max_length=128, index=True)
    team: str = Field(max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_seen_at: datetime = Field(sa_column=utc_column())
    last_seen_at: datetime = Field(sa_column=utc_column())
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    superseded: bool = False
    # how many times the finding came back after it was resolved: each episode is announced
    episode: int = 0


class CalendarTokenRow(SQLModel, table=True):
    """A team's calendar feed token, as its SHA-256 only (``supportwatch.tokens``): one per team."""

    __tablename__ = "calendar_token"

    team: str = Field(primary_key=True, max_length=128)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column())


V = TypeVar("V")
_FIELDS: dict[type, tuple[str, ...]] = {}


def row_value(row: SQLModel, cls: type[V], **given: Any) -> V:
    """The value ``cls`` (a dataclass) with each field read off ``row``, unless ``given``: the
    one way rows become values, for the catalog and the notification log alike.

    A JSON list (``image_tags``) becomes the tuple the values hold.
    """
    names = _FIELDS.get(cls) or _FIELDS.setdefault(cls, tuple(item.name for item in fields(cast(Any, cls))))
    return cls(**{name: given[name] if name in given else _frozen(getattr(row, name)) for name in names})


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
