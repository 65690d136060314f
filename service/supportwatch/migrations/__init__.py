"""Alembic migrations, applied programmatically: ``upgrade(engine)``, or ``upgrade_in_child``
from a long-lived process.

Alembic is imported only when a migration must run: every CLI command checks the revision
first, and that check should cost a query, not an import of the migration framework.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect, text

_HERE = Path(__file__).resolve().parent
# where ``python -m supportwatch.migrations`` reads the database URL (the config's own override)
URL_VARIABLE = "SUPPORTWATCH_DATABASE_URL"
CHILD_TIMEOUT_SECONDS = 600.0
logger = logging.getLogger(__name__)


class MigrationFailed(RuntimeError):
    """The child process could not migrate the database; the message says why (no password)."""


_ASSIGN = re.compile(r"^(revision|down_revision)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|None)\s*$", re.MULTILINE)


def head_revision() -> str | None:
    """The newest revision shipped with this package (read from the revision files)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((_HERE / "versions").glob("*.py")):
        found = {m[1]: m[2] or m[3] or None for m in _ASSIGN.finditer(path.read_text(encoding="utf-8"))}
        if found.get("revision"):
            revisions[str(found["revision"])] = found.get("down_revision")
    parents = set(revisions.values())
    heads = [revision for revision in revisions if revision not in parents]
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


# an arbitrary constant: the PostgreSQL advisory lock that serialises migrations
_MIGRATION_LOCK = 0x5357_4D49_4752


def upgrade(engine: Engine) -> bool:
    """Bring the database to the head revision; True if anything was applied.

    Several processes may start at once on an empty database: they migrate one at a time
    (a PostgreSQL advisory lock, or an exclusive lock file beside a SQLite database) and each
    checks the revision again once it holds the lock, so exactly one applies the migrations.
    """
    if current_revision(engine) == head_revision():
        return False
    with _migration_lock(engine):
        if current_revision(engine) == head_revision():
            return False
        from alembic import command  # noqa: PLC0415 - see the module docstring
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option("script_location", str(_HERE))
        config.attributes["engine"] = engine
        command.upgrade(config, "head")
        return True


def upgrade_in_child(
    engine: Engine, *, timeout: float = CHILD_TIMEOUT_SECONDS, meanwhile: Callable[[], object] | None = None
) -> bool:
    """``upgrade`` for a long-lived process: when ``engine``'s database is behind, a short-lived
    ``python -m supportwatch.migrations`` applies the migrations (under the same lock), so
    Alembic never loads here. ``meanwhile`` runs while the child works (``run`` loads its web
    stack then). True if the child ran; raises ``MigrationFailed`` with its reason.
    """
    if current_revision(engine) == head_revision():
        return False
    url = engine.url.render_as_string(hide_password=False)
    with subprocess.Popen(
        # -P: nothing is imported from the working directory (a data volume, in the image)
        [sys.executable, "-P", "-m", "supportwatch.migrations"],
        env={**os.environ, URL_VARIABLE: url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # its own process group: a terminal's Ctrl-C stops the service after the migration
        # (as it did when the migration ran in-process), never halfway through it
        process_group=0,
    ) as child:
        if meanwhile is not None:
            meanwhile()
        try:
            _, errors = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise MigrationFailed(f"the migration did not finish within {timeout:g} s") from None
    if child.returncode != 0:
        lines = errors.strip().splitlines()
        raise MigrationFailed(lines[-1] if lines else f"the migration exited with status {child.returncode}")
    logger.info("migrated the database to revision %s", head_revision())
    return True


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
