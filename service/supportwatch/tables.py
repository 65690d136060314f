"""The persisted tables (SQLAlchemy Core): only the store modules import them.

Each table holds a value of ``values.py``; the column lengths are the bounds ``values.storable``
applies before anything is stored. The migrations lay the tables out; these definitions are
what the code reads and writes, and a test compares the two (``alembic.autogenerate``).

Core tables, not ORM models: every read and write here is a statement, so the running service
never loads SQLAlchemy's ORM (5 MiB of its resident memory) nor a model layer over it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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

metadata = MetaData()

# the facts about one release beyond its name: the reconciled ones (``release``) and each
# source's claim (``release_observation``) have these columns alike, compared and copied by name
RELEASE_FACTS: tuple[str, ...] = ("released_on", "app_version", "channel", "yanked", "image_tags")


def _release_facts() -> list[Column[Any]]:
    # new Column objects per table: a Column belongs to one table only
    return [
        Column("released_on", Date, nullable=True),
        Column("app_version", String(APP_VERSION_MAX), nullable=True),
        Column("channel", String(CHANNEL_MAX), nullable=False, default="stable"),
        Column("yanked", Boolean, nullable=False, default=False),
        Column("image_tags", JSON, nullable=False, default=list),
    ]


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _utc(name: str, *, nullable: bool = False) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable)


release_table = Table(
    "release",  # the reconciled catalog: one row per (component, version), never deleted
    metadata,
    *_release_facts(),
    _id(),
    Column("component", String(COMPONENT_MAX), nullable=False, index=True),
    Column("version", String(VERSION_MAX), nullable=False),
    _utc("first_seen_at"),
    _utc("updated_at"),
    UniqueConstraint("component", "version", name="uq_release_component_version"),
    # the store's revision reads the newest updated_at on every request: an index, not a scan
    Index("ix_release_updated_at", "updated_at"),
)

observation_table = Table(
    "release_observation",  # provenance: what each source last claimed about each version, and when
    metadata,
    *_release_facts(),
    _id(),
    Column("component", String(COMPONENT_MAX), nullable=False),
    Column("version", String(VERSION_MAX), nullable=False),
    Column("source", String(SOURCE_NAME_MAX), nullable=False, index=True),
    Column("url", String(URL_MAX), nullable=True),
    _utc("first_seen_at"),
    _utc("seen_at"),
    UniqueConstraint("component", "version", "source", name="uq_observation_component_version_source"),
)

source_state_table = Table(
    "source_state",  # one row per source: validators for conditional GET and data health
    metadata,
    Column("name", String(SOURCE_NAME_MAX), primary_key=True),
    Column("configured_url", String(URL_MAX), nullable=True),
    Column("url", String(URL_MAX), nullable=True),
    Column("etag", String(ETAG_MAX), nullable=True),
    Column("last_modified", String(LAST_MODIFIED_MAX), nullable=True),
    _utc("last_attempt_at", nullable=True),
    _utc("last_success_at", nullable=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", String(ERROR_MAX), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("release_count", Integer, nullable=False, default=0),
)

# The delivery log: one row per (target, key); the unique key makes a double send impossible.
# ``target`` is ``receiver/integration`` (``data-platform/slack``); ``key`` a
# ``notify.log.DeliveryKey`` as text, ``state`` a ``notify.log.DeliveryState`` value; ``payload``
# holds what to send (``notify.payload``), so a retry or a resumed claim re-sends exactly the
# original message. ``thread`` names the conversation a notice belongs to (a finding's
# reminders, repeats and resolution share one) and ``external_id`` is what the server called the
# message that carried the row (a Slack ``ts``, an email's Message-ID): the first one of a
# thread is where the later ones reply.
delivery_table = Table(
    "delivery",
    metadata,
    _id(),
    Column("target", String(160), nullable=False),
    Column("key", String(512), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    _utc("created_at"),
    _utc("next_attempt_at", nullable=True),
    _utc("lease_until", nullable=True),
    _utc("sent_at", nullable=True),
    Column("last_error", String(2000), nullable=True),
    Column("summary", String(512), nullable=False, default=""),
    Column("payload", JSON, nullable=False, default=dict),
    Column("thread", String(512), nullable=True),
    Column("external_id", String(255), nullable=True),
    UniqueConstraint("target", "key", name="uq_delivery_target_key"),
    Index("ix_delivery_target_thread", "target", "thread"),
)

ack_table = Table(
    "ack",  # an acknowledged finding: silenced until ``until`` (or forever if None) or until its key changes
    metadata,
    _id(),
    Column("dedup_key", String(512), nullable=False),
    _utc("until", nullable=True),
    _utc("created_at"),
    Column("note", String(512), nullable=False, default=""),
    UniqueConstraint("dedup_key", name="uq_ack_dedup_key"),
)

# Every finding seen by a notify or digest run: open (resolved_at None) or resolved.
# ``superseded`` marks a finding replaced by another of the same family on the same deployment
# (rung 30 -> rung 14): it ended, but nothing was fixed, so no "resolved" goes out. ``episode``
# counts the times it came back after it was resolved: each episode is announced.
finding_state_table = Table(
    "finding_state",
    metadata,
    _id(),
    Column("dedup_key", String(512), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("deployment", String(128), nullable=False, index=True),
    Column("team", String(128), nullable=False),
    Column("payload", JSON, nullable=False, default=dict),
    _utc("first_seen_at"),
    _utc("last_seen_at"),
    _utc("resolved_at", nullable=True),
    Column("superseded", Boolean, nullable=False, default=False),
    Column("episode", Integer, nullable=False, default=0),
    UniqueConstraint("dedup_key", name="uq_finding_state_dedup_key"),
)

calendar_token_table = Table(
    "calendar_token",  # a team's calendar feed token, as its SHA-256 only (``supportwatch.tokens``)
    metadata,
    Column("team", String(128), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    _utc("created_at"),
)


def insert_for(engine: Engine, table: Table) -> Any:
    """The dialect's INSERT on ``table``, which knows ``ON CONFLICT`` (SQLite and PostgreSQL
    spell it alike; SQLAlchemy offers it per dialect)."""
    if engine.dialect.name != "postgresql":
        return sqlite_insert(table)
    # imported when used: a SQLite deployment never loads the PostgreSQL dialect (2 MiB)
    from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

    return pg_insert(table)


V = TypeVar("V")
_FIELDS: dict[type, tuple[str, ...]] = {}


def row_value(row: Any, cls: type[V], **given: Any) -> V:
    """The value ``cls`` (a dataclass) with each field read off ``row`` (a result row), unless
    ``given``: the one way rows become values, for the catalog and the notification log alike.

    A JSON list (``image_tags``) becomes the tuple the values hold.
    """
    names = _FIELDS.get(cls) or _FIELDS.setdefault(cls, tuple(item.name for item in fields(cast(Any, cls))))
    return cls(**{name: given[name] if name in given else _frozen(getattr(row, name)) for name in names})


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
