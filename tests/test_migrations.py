from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from supportwatch import migrations
from supportwatch.engine import create_engine_for
from supportwatch.migrations import (
    URL_VARIABLE,
    MigrationFailed,
    current_revision,
    head_revision,
    upgrade,
    upgrade_in_child,
)
from supportwatch.migrations import __main__ as migrations_main
from supportwatch.store import Store
from supportwatch.tables import metadata


def test_head_matches_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", migrations.__path__[0])
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_upgrade_is_idempotent_and_creates_tables(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert upgrade(engine) is False
    tables = set(inspect(engine).get_table_names())
    assert {"release", "release_observation", "alembic_version"} <= tables


def test_the_migrated_schema_is_the_tables_the_code_reads_and_writes(engine: Engine) -> None:
    # every table, column (with its type), index and unique constraint, on both backends
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


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


def test_upgrade_in_child_migrates_a_fresh_database_then_finds_it_at_the_head(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        assert upgrade_in_child(engine) is True
        assert current_revision(engine) == head_revision()
        assert upgrade_in_child(engine) is False  # no child at all when nothing is due
    finally:
        engine.dispose()


def test_a_failed_child_migration_says_why_and_leaves_the_database_as_it_was(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
        with pytest.raises(MigrationFailed, match="9999"):
            upgrade_in_child(engine)
        assert current_revision(engine) == "9999"
        assert not inspect(engine).has_table("release")
    finally:
        engine.dispose()


def run_migrations_module(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != URL_VARIABLE}
    return subprocess.run(
        [sys.executable, "-m", "supportwatch.migrations"],
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_migrations_module_migrates_the_database_its_variable_names(sqlite_url: str) -> None:
    child = run_migrations_module({URL_VARIABLE: sqlite_url})
    assert (child.returncode, child.stderr) == (0, "")
    engine = create_engine_for(sqlite_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_the_migrations_module_without_its_variable_names_it() -> None:
    child = run_migrations_module({})
    assert child.returncode == 1
    assert child.stderr.strip() == f"{URL_VARIABLE} is not set: name the database to migrate"


def test_the_migrations_module_reports_an_unreachable_server_in_one_line_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: the connection is refused
        url = f"postgresql+psycopg://supportwatch:hunter2-not-shown@127.0.0.1:{port}/supportwatch"
        child = run_migrations_module({URL_VARIABLE: url})
    assert child.returncode == 1
    assert len(child.stderr.strip().splitlines()) == 1
    assert "hunter2-not-shown" not in child.stderr
    assert "Traceback" not in child.stderr
    assert "127.0.0.1" in child.stderr


def test_the_catalog_revision_reads_the_newest_change_from_an_index(engine: Engine) -> None:
    """The store's revision runs on every cached request: the very statement it sends must read
    the newest ``updated_at`` from the index, not scan the release table."""
    store = Store(engine)
    store.revision()
    statement = store._revision_sql  # the compiled statement the probe sends (built on first use)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")
            plan = " ".join(str(row[-1]) for row in rows)
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {statement}"))
    assert "ix_release_updated_at" in plan


def test_a_child_migration_that_does_not_finish_in_time_is_a_failure(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with pytest.raises(MigrationFailed, match=r"did not finish within 0\.01 s"):
            upgrade_in_child(engine, timeout=0.01)
    finally:
        engine.dispose()


def test_the_migrations_entry_point_reports_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: the connection is refused
        url = f"postgresql+psycopg://sw:hunter2-not-shown@127.0.0.1:{sock.getsockname()[1]}/sw"
        monkeypatch.setenv(URL_VARIABLE, url)
        assert migrations_main.main() == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "hunter2-not-shown" not in err
    assert "127.0.0.1" in err


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+psycopg://sw:s3cret-w0rd@db.example/sw", "s3cret-w0rd"),
        ("postgresql+psycopg://sw:p%40ss%2Fs3cret-w0rd@db.example/sw", "p@ss/s3cret-w0rd"),
        ("postgresql+psycopg://sw@db.example/sw?password=s3cret-w0rd", "s3cret-w0rd"),
        ("postgresql+psycopg://sw@db.example/sw?sslpassword=s3cret-w0rd", "s3cret-w0rd"),
    ],
)
def test_a_failure_naming_the_password_is_reported_without_it(url: str, password: str) -> None:
    """Whatever a driver puts in its message (the URL, the password as given or decoded), the
    child's line hides it, as every other message of the service does."""
    message = f"could not connect to {url} as sw (password {password!s})"
    line = migrations_main._reason(RuntimeError(message), url)
    assert "s3cret-w0rd" not in line
    assert "***" in line
    assert line.startswith("could not connect to")


def test_the_migrations_entry_point_migrates_in_process_too(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_VARIABLE, sqlite_url)
    assert migrations_main.main() == 0
    monkeypatch.setenv(URL_VARIABLE, " ")
    assert migrations_main.main() == 1
    engine = create_engine_for(sqlite_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_the_child_imports_nothing_from_the_working_directory(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's working directory is its data volume: a module there never runs."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    (folder / "logging.py").write_text('raise SystemExit("shadowed: ./logging.py was imported")\n')
    monkeypatch.chdir(folder)
    engine = create_engine_for(sqlite_url)
    try:
        assert upgrade_in_child(engine) is True
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_the_child_runs_in_its_own_process_group(sqlite_url: str) -> None:
    """A terminal's Ctrl-C goes to the foreground process group: the service records it and
    stops once started, while the child, in a group of its own, finishes the migration."""
    groups: list[tuple[int, int]] = []

    def child_group() -> None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that just ended
            pid = int(stat.parent.name)
            if int(fields[1]) == os.getpid():  # ppid
                groups.append((pid, int(fields[2])))  # its process group

    engine = create_engine_for(sqlite_url)
    try:
        assert upgrade_in_child(engine, meanwhile=child_group) is True
    finally:
        engine.dispose()
    assert groups, "no child process was seen"
    assert all(pid == group != os.getpgid(0) for pid, group in groups)


def test_a_failed_upgrade_leaves_the_schema_as_it_was(database_url: str) -> None:
    """Every migration runs in one transaction (SQLite too): here the last one fails, its table
    being in the way, and none of the earlier ones stays applied."""
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE calendar_token (team VARCHAR(128) PRIMARY KEY)"))
        with pytest.raises(Exception, match="calendar_token"):
            upgrade(engine)
        assert set(inspect(engine).get_table_names()) <= {"calendar_token", "alembic_version"}
        assert current_revision(engine) is None
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE calendar_token"))
        assert upgrade(engine) is True
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
