from __future__ import annotations

import threading

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


def test_processes_upgrading_an_empty_database_at_once_apply_it_once(database_url: str) -> None:
    """Three engines (as three replicas or one-off commands would have) upgrade an empty
    database together: one applies the migrations, the others find them applied; none fails."""
    engines = [create_engine_for(database_url) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    applied: list[bool] = []
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        barrier.wait()
        try:
            applied.append(upgrade(engine))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert sorted(applied) == [False, False, True]
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()
