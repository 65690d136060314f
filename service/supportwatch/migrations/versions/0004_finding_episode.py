"""Findings that come back after being resolved count episodes, each announced.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("finding_state") as batch:
        batch.add_column(sa.Column("episode", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("finding_state") as batch:
        batch.drop_column("episode")
