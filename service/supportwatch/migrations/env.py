"""Alembic environment: runs online against the engine handed in by ``upgrade(engine)``.

The whole upgrade is one transaction on both backends, so a migration that fails, or a process
killed halfway through one, leaves the schema as it was. PostgreSQL's DDL is transactional by
itself; pysqlite would commit before each DDL statement, so on SQLite the driver is put in
autocommit mode and the transaction is opened and closed here.

An upgrade needs no table metadata, so the table definitions are not loaded (the migration child
starts faster); a caller that compares or autogenerates hands ``supportwatch.tables.metadata``
in as the ``metadata`` attribute.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("metadata"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


engine: Engine = context.config.attributes["engine"]
if engine.dialect.name == "sqlite":
    # the driver's own transaction handling off: BEGIN, every migration, COMMIT (or ROLLBACK)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("BEGIN")
        try:
            run(connection)
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")
else:
    with engine.begin() as connection:
        run(connection)
