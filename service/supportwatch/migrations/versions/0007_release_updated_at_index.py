"""An index on the catalog's ``updated_at``: the store's revision reads its newest value on every
cached request, which without it is a scan of the release table.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_release_updated_at", "release", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_release_updated_at", table_name="release")
