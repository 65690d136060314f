"""``db upgrade`` and ``run --migrate`` started together on an empty PostgreSQL database.

They serialise on the migration advisory lock: one process applies the migrations, the others
wait for it and find the schema at head. An event trigger records every table created, so the
test sees each migration's DDL ran exactly once (a second run would also fail on "already
exists" and exit non-zero).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import text

from ports import free_port
from supportwatch.engine import create_engine_for
from supportwatch.migrations import head_revision

SUPPORTWATCH = Path(sys.executable).parent / "supportwatch"
RECORD_DDL = """
CREATE TABLE ddl_log (id serial PRIMARY KEY, tag text NOT NULL, object text NOT NULL);
CREATE FUNCTION record_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE item record;
BEGIN
  FOR item IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    INSERT INTO ddl_log (tag, object) VALUES (item.command_tag, item.object_identity);
  END LOOP;
END $$;
CREATE EVENT TRIGGER record_ddl ON ddl_command_end EXECUTE FUNCTION record_ddl();
"""


def ready(port: int, process: subprocess.Popen[str], timeout: float) -> bool:
    """Whether ``/readyz`` answers 200 (database reachable and at head) within ``timeout``."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


def test_upgrades_and_migrating_runs_started_at_once_migrate_once(postgres_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(RECORD_DDL))
    config = tmp_path / "supportwatch.yaml"
    config.write_text(f"database_url: {postgres_url}\nschedule: {{leader_retry_seconds: 1}}\n")
    base = [str(SUPPORTWATCH), "--config", str(config)]
    ports = [free_port() for _ in range(3)]
    started = [
        *(
            subprocess.Popen(
                [*base, "db", "upgrade"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ),
        *(
            subprocess.Popen(
                [*base, "run", "--migrate", "--port", str(port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for port in ports
        ),
    ]
    upgrades, runs = started[:3], started[3:]
    try:
        upgraded = [process.communicate(timeout=60) for process in upgrades]
        served = [ready(port, process, timeout=60) for port, process in zip(ports, runs, strict=True)]
        for process in runs:
            process.send_signal(signal.SIGTERM)
        stopped = [process.communicate(timeout=30) for process in runs]
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=5)
    try:
        for process, (out, err) in zip(upgrades, upgraded, strict=True):
            assert process.returncode == 0, err
            assert "database is at the newest revision" in out
        assert served == [True, True, True], [err[-2000:] for _, err in stopped]
        for process, (_, err) in zip(runs, stopped, strict=True):
            assert process.returncode == 0, err
            assert "Traceback" not in err
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            created = Counter(
                connection.execute(text("SELECT object FROM ddl_log WHERE tag = 'CREATE TABLE'")).scalars()
            )
    finally:
        engine.dispose()
    assert versions == [head_revision()]
    # every table the migrations create was created once, by one process
    assert created, "no CREATE TABLE was recorded"
    assert {name: times for name, times in created.items() if times != 1} == {}
    assert {"public.alembic_version", "public.calendar_token", "public.release"} <= set(created)
