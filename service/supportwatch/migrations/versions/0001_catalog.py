"""The release catalog and its provenance.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supportwatch.columns import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("component", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("released_on", sa.Date(), nullable=True),
        sa.Column("app_version", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("yanked", sa.Boolean(), nullable=False),
        sa.Column("image_tags", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("component", "version", name="uq_release_component_version"),
    )
    op.create_index("ix_release_component", "release", ["component"])
    op.create_table(
        "release_observation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("component", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("released_on", sa.Date(), nullable=True),
        sa.Column("app_version", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("yanked", sa.Boolean(), nullable=False),
        sa.Column("image_tags", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("component", "version", "source", name="uq_observation_component_version_source"),
    )
    op.create_index("ix_release_observation_source", "release_observation", ["source"])


def downgrade() -> None:
    op.drop_table("release_observation")
    op.drop_table("release")
