"""``supportwatch run`` that cannot start: a taken port, a database folder it cannot write.

Each exits 2 with one clear message and no traceback, and nothing runs first (no poll, no
notification)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from supportwatch.config import Settings
from supportwatch.daemon import bind, cannot_open, serve
from supportwatch.engine import create_engine_for
from supportwatch.errors import ConfigError
from supportwatch.notify.log import DeliveryLog
from supportwatch.scheduler import Scheduler

SUPPORTWATCH = Path(sys.executable).parent / "supportwatch"
# a floating tag: one finding, which the default console receiver would log at once
CONFIG = """\
database_url: sqlite:///{db}
sources:
  - name: pinned
    kind: static
    releases:
      - {{component: agent, version: 1.6.0, released_on: 2026-04-16}}
deployments:
  - name: prod-east
    team: data-platform
    image: images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.1-9
"""
# without CAP_DAC_OVERRIDE root obeys file modes like any user (the tests may run as root)
AS_A_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 another process already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def run(config: Path, *args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), str(SUPPORTWATCH), "--config", str(config), "run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_taken_port_exits_2_before_any_job_runs(tmp_path: Path, taken_port: int) -> None:
    config = tmp_path / "supportwatch.yaml"
    database = tmp_path / "sw.db"
    config.write_text(CONFIG.format(db=database))
    result = run(config, "--host", "127.0.0.1", "--port", str(taken_port))
    assert result.returncode == 2, result.stderr
    assert f"supportwatch: error: web: cannot serve on 127.0.0.1:{taken_port}: Address already in use" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "leading" not in result.stderr  # no scheduler started
    assert "floating" not in result.stderr.lower()  # the console receiver got nothing
    if database.exists():
        engine = create_engine_for(f"sqlite:///{database}")
        try:
            assert DeliveryLog(engine).records() == []
        finally:
            engine.dispose()


def test_serve_binds_before_the_scheduler_starts(
    sqlite_url: str, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[bool] = []
    monkeypatch.setattr(Scheduler, "start", lambda self: started.append(True))
    settings = Settings.model_validate({"database_url": sqlite_url})
    with pytest.raises(ConfigError, match=f"cannot serve on 127.0.0.1:{taken_port}: Address already in use"):
        serve(settings, host="127.0.0.1", port=taken_port)
    assert started == []


def test_bind_names_a_host_that_cannot_be_served() -> None:
    with pytest.raises(ConfigError, match=r"web: cannot serve on 192\.0\.2\.1:0: .*check --host/--port"):
        bind("192.0.2.1", 0)  # TEST-NET-1: not an address of this machine


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a folder mode cannot stop root")
    folder = tmp_path / "data"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("existing", [False, True], ids=["new-database", "existing-database"])
def test_a_database_folder_it_cannot_write_exits_2_naming_it(
    tmp_path: Path, read_only: Path, existing: bool
) -> None:
    database = read_only / "sw.db"
    config = tmp_path / "supportwatch.yaml"
    config.write_text(CONFIG.format(db=database))
    if existing:  # a database made earlier, then the folder turned read-only
        subprocess.run(
            [str(SUPPORTWATCH), "--config", str(config), "check", "--fail-on", "never"], check=True
        )
        (read_only / "sw.db.scheduler.lock").touch()
        for extra in ("-wal", "-shm"):
            Path(f"{database}{extra}").unlink(missing_ok=True)
    read_only.chmod(0o555)
    result = run(config, "--port", "0", prefix=AS_A_USER)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        f"supportwatch: error: cannot open the database sqlite:///{database}: "
        f"its folder {read_only} is not writable by this user"
    ) in result.stderr
    assert "point database_url at a writable folder" in result.stderr


def test_cannot_open_hides_the_password() -> None:
    url = "postgresql+psycopg://sw:pa55word-S3CR3T@db.example.com:5432/sw"
    error = OperationalError("connect", {}, Exception(f'password authentication failed: "{url}"'))
    message = cannot_open(url, error)
    assert message.startswith("cannot open the database postgresql+psycopg://sw:***@db.example.com:5432/sw: ")
    assert "S3CR3T" not in message
    assert "check database_url" in message
