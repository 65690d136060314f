"""Alembic environment: runs online against the engine handed in by ``upgrade(engine)``.

An upgrade needs no model metadata, so the ORM models are not loaded (the migration child
starts faster); a caller that compares or autogenerates hands ``SQLModel.metadata`` in as the
``metadata`` attribute.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("metadata"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
