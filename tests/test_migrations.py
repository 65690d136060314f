from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from supportwatch import migrations
from supportwatch.migrations import current_revision, head_revision, upgrade
from supportwatch.store import create_engine_for


def test_head_matches_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", migrations.__path__[0])
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_upgrade_is_idempotent_and_creates_tables(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert upgrade(engine) is False
    tables = set(inspect(engine).get_table_names())
    assert {"release", "release_observation", "alembic_version"} <= tables


def test_fresh_sqlite_file_is_migrated(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) is True
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
