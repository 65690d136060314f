"""Threads: each delivery row names its conversation and the id the server gave its message.

Reminders, repeats and resolutions reply to the first message of their thread (a Slack
``thread_ts``, an email's ``In-Reply-To``); rows written before stay without either.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("thread", sa.String(512), nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(255), nullable=True))
    op.create_index("ix_delivery_target_thread", "delivery", ["target", "thread"])


def downgrade() -> None:
    op.drop_index("ix_delivery_target_thread", table_name="delivery")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("external_id")
        batch.drop_column("thread")
