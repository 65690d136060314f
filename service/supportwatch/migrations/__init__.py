"""Alembic migrations, applied programmatically: ``upgrade(engine)``.

Alembic is imported only when a migration must run: every CLI command checks the revision
first, and that check should cost a query, not an import of the migration framework.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, inspect, text

_HERE = Path(__file__).resolve().parent
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


def upgrade(engine: Engine) -> bool:
    """Bring the database to the head revision; True if anything was applied."""
    if current_revision(engine) == head_revision():
        return False
    from alembic import command  # noqa: PLC0415 - see the module docstring
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = engine
    command.upgrade(config, "head")
    return True
