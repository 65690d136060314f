"""End to end: the real CLI on a temporary SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from supportwatch.checks import evaluate
from supportwatch.cli import app
from supportwatch.config import StaticSource, load_settings
from supportwatch.report import check_document, check_json_chunks
from supportwatch.service import Service
from supportwatch.sources.static import static_releases
from supportwatch.values import Release

FIXTURE = Path(__file__).parent / "fixtures" / "every-finding.yaml"
DEPLOYMENT_KINDS = {
    "end_of_maintenance",
    "maintenance_ending",
    "behind_latest_patch",
    "behind_latest_minor",
    "new_major_available",
    "chart_incompatible",
    "chart_breaking_upgrade",
    "chart_behind_latest",
    "runtime_skew",
    "known_incompatibility",
    "floating_tag",
    "unknown_version",
    "unsupported_platform",
    "yanked_version",
}


@pytest.fixture
def env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SW_TEST_DB", sqlite_url)
    return {**os.environ, "SW_TEST_DB": sqlite_url}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(FIXTURE), *args])


def check_json(*extra: str) -> tuple[int, dict[str, Any]]:
    result = invoke("check", "--format", "json", *extra)
    return result.exit_code, json.loads(result.stdout)


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in document["deployments"]}


def kinds_of(item: dict[str, Any]) -> set[str]:
    return {finding["kind"] for finding in item["findings"]}


@pytest.mark.usefixtures("env")
def test_check_json_covers_every_kind() -> None:
    seen: set[str] = set()
    for at in ("2026-08-01", "2026-08-20"):
        code, document = check_json("--at", at, "--fail-on", "never")
        assert code == 0
        assert document["evaluated_at"] == f"{at}T00:00:00+00:00"
        seen |= {kind for item in document["deployments"] for kind in kinds_of(item)}
    assert seen >= DEPLOYMENT_KINDS


@pytest.mark.usefixtures("env")
def test_check_json_states_and_remedies() -> None:
    _, document = check_json("--at", "2026-08-01", "--fail-on", "never")
    items = by_name(document)
    assert set(items) == {
        "current",
        "eol",
        "ending",
        "skewed",
        "legacy",
        "floating",
        "typo",
        "redhat",
        "pulled",
    }
    # 2.0.0 counts since 2026-07-22: 1.7.1, the newest of major 1, is maintained but behind it
    assert items["current"]["state"] == "behind"
    assert kinds_of(items["current"]) == {"new_major_available"}
    assert items["eol"]["state"] == "unmaintained"
    assert items["eol"]["end_of_maintenance"] == "2026-07-10"
    assert items["eol"]["agent_version"] == "1.3.1"
    assert kinds_of(items["eol"]) >= {"end_of_maintenance", "chart_incompatible"}
    assert items["ending"]["state"] == "behind"
    assert kinds_of(items["ending"]) >= {"behind_latest_patch", "behind_latest_minor", "chart_incompatible"}
    assert items["floating"]["state"] == "unknown"
    assert items["floating"]["agent_version"] is None
    assert items["typo"]["state"] == "unknown"
    [patch] = [f for f in items["ending"]["findings"] if f["kind"] == "behind_latest_patch"]
    assert patch["severity"] == "warning"
    assert patch["dedup_key"] == "behind_latest_patch:ending:agent-1.6.0->1.6.1"
    # Worked by hand: no image of 1.6.1, 1.7.x or 2.0.0 has a Runtime <= 3.2-2, and 1.6.0 stays behind
    # 1.6.1. 1.7.1 (1.7.2 is yanked) on 3.2-5 clears everything once the orchestration plane is on
    # 3.2-5; chart 2.3.3 admits the running 1.6.0, so the chart moves before the agent.
    assert patch["remedy"] == (
        "Upgrade the orchestration plane to Runtime 3.2-5 or later; then upgrade the chart from 1.5.0 to "
        "2.3.3 (a breaking upgrade: see the plan); then move to agent 1.7.1: "
        "images.astronomer.cloud/baseimages/astro-remote-execution-agent:3.2-5-python-3.12-astro-agent-1.7.1"
    )
    [floating] = items["floating"]["findings"]
    assert floating["remedy"].endswith(":3.2-5-python-3.12-astro-agent-1.7.1-base")
    for item in document["deployments"]:
        for finding in item["findings"]:
            assert set(finding) == {"kind", "severity", "dedup_key", "summary", "remedy"}
            assert finding["severity"] in {"critical", "warning", "info"}


@pytest.mark.usefixtures("env")
def test_maintenance_ending_rung_and_same_keys_across_runs() -> None:
    _, first = check_json("--at", "2026-08-20", "--fail-on", "never")
    _, again = check_json("--at", "2026-08-20", "--fail-on", "never")
    [ending] = [f for f in by_name(first)["ending"]["findings"] if f["kind"] == "maintenance_ending"]
    assert ending["dedup_key"] == "maintenance_ending:ending:agent-1.6:rung-60"
    assert "2026-10-16" in ending["summary"]
    assert first["deployments"] == again["deployments"]


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(("fail_on", "code"), [("critical", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on_gate(fail_on: str, code: int) -> None:
    assert invoke("check", "--at", "2026-08-01", "--fail-on", fail_on).exit_code == code


def test_fail_on_passes_a_clean_fleet(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "c.yaml"
    text = FIXTURE.read_text(encoding="utf-8").replace("${SW_TEST_DB}", sqlite_url)
    config.write_text(text.split("deployments:\n")[0] + "deployments: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "check", "--fail-on", "info"])
    assert result.exit_code == 0


@pytest.mark.usefixtures("env")
def test_check_table_for_people() -> None:
    result = invoke("check", "--at", "2026-08-01")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].split() == [
        "DEPLOYMENT",
        "TEAM",
        "STATE",
        "AGENT",
        "END",
        "OF",
        "MAINTENANCE",
    ]
    assert "eol: [critical] end_of_maintenance:" in result.stdout
    [current] = [line for line in result.stdout.splitlines() if line.startswith("current ")]
    # 2.0.0 counts since 2026-07-22, so 1.7 is no longer the open newest minor
    assert current.endswith("2027-01-01")
    assert "fix: Move to agent 1.7.1" in result.stdout


@pytest.mark.usefixtures("env")
def test_releases_json_and_windows() -> None:
    result = invoke("releases", "--format", "json", "--at", "2026-08-01")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    agents = [r for r in document["releases"] if r["component"] == "agent"]
    assert [r["version"] for r in agents][:3] == ["1.0.0", "1.3.0", "1.3.1"]
    assert agents[0]["sources"] == ["fixture"]
    assert set(agents[0]) >= {"component", "version", "released_on", "app_version", "sources"}
    charts = [r for r in document["releases"] if r["component"] == "chart"]
    assert charts[-1]["app_version"] == "1.7.1"
    minors = {m["minor"]: m for m in document["minors"]}
    assert minors["1.3"] == {
        "component": "agent",
        "minor": "1.3",
        "released_on": "2026-01-10",
        "end_of_maintenance": "2026-07-10",
        "end_of_maintenance_open": False,
        "nominal_end_of_maintenance": "2026-07-10",
        "estimated": False,
        "policy": "test-policy",
    }
    # as `check` reads the policy: 1.0 was the newest minor at its nominal end (2025-12-02) and
    # stayed maintained until 1.3.0 counted (2026-01-10 + 7 days' grace); 2.0 is the newest: open
    ends = {
        key: (m["end_of_maintenance"], m["end_of_maintenance_open"], m["nominal_end_of_maintenance"])
        for key, m in minors.items()
    }
    assert ends == {
        "1.0": ("2026-01-17", False, "2025-12-02"),
        "1.3": ("2026-07-10", False, "2026-07-10"),
        "1.5": ("2026-09-02", False, "2026-09-02"),
        "1.6": ("2026-10-16", False, "2026-10-16"),
        "1.7": ("2027-01-01", False, "2027-01-01"),
        "2.0": (None, True, "2027-01-15"),
    }
    only_runtime = json.loads(invoke("releases", "--component", "runtime", "--format", "json").stdout)
    assert {r["component"] for r in only_runtime["releases"]} == {"runtime"}
    assert only_runtime["minors"] == []


@pytest.mark.usefixtures("env")
def test_releases_table_and_db_upgrade() -> None:
    table = invoke("releases", "--component", "agent", "--at", "2026-08-01")
    assert table.exit_code == 0
    assert "agent 1.0  2025-06-02  2026-01-17 (nominal 2025-12-02)" in table.stdout
    assert "agent 1.3  2026-01-10  2026-07-10" in table.stdout
    assert "agent 2.0  2026-07-15  open (newest minor; nominal 2027-01-15)" in table.stdout
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0
    assert "newest revision" in upgraded.stdout


@pytest.mark.usefixtures("env")
def test_bad_at_is_a_usage_error() -> None:
    result = invoke("check", "--at", "next tuesday")
    assert result.exit_code == 2
    assert "'next tuesday'" in result.stderr


def run_cli(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supportwatch.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("policy: {id: x\n", "is not valid YAML"),
        ("polcy: {}\n", "polcy: unknown key"),
        ("policy: {maintenance_months: [6]}\n", "policy.maintenance_months"),
        (
            "deployments:\n  - {name: a, team: t, image: 'r/astro-remote-execution-agent:3.1-9'}\n"
            "  - {name: a, team: t, image: 'r/astro-remote-execution-agent:3.1-9'}\n",
            "bad.yaml: deployments[1] (a).name: duplicate deployment name 'a'",
        ),
        ("deployments:\n  - {name: a, team: t, image: 'r/x:v1'}\n", "bad.yaml: deployments[0] (a).image"),
        (
            "deployments:\n  - {name: a, team: t, image: 'images.astronomer.cloud/baseimages/astro-runtime:3.1-9'}\n",
            "bad.yaml: deployments[0] (a).image: repository 'images.astronomer.cloud/baseimages/astro-runtime' "
            "is not an agent image repository",
        ),
        (
            "deployments:\n  - {name: a, team: t, image: 'r/astro-remote-execution-agent:3.1-9'}\nroutes:\n  - {match: {team: q}, receiver: console}\n",
            "routes[0].match.team: 'q'",
        ),
    ],
)
def test_bad_config_exits_2_without_traceback(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text, encoding="utf-8")
    result = run_cli(config, "check")
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("database_url: 'postgresql+psycopg://sw:hunter2@127.0.0.1:1/sw'\n", encoding="utf-8")
    result = run_cli(config, "check")
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_config_from_environment_variable(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"database_url: '{sqlite_url}'\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "supportwatch.cli", "check", "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "SUPPORTWATCH_CONFIG": str(config)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deployments"] == []


def test_streamed_json_equals_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SW_TEST_DB", "sqlite://")
    settings = load_settings(FIXTURE)
    releases = [r for s in settings.sources if isinstance(s, StaticSource) for r in static_releases(s)]
    now = datetime(2026, 8, 1, tzinfo=UTC)
    reports = evaluate(
        settings.deployment_values(), releases, settings.maintenance_policy(), rules=settings.rules(), now=now
    )
    streamed = json.loads("".join(check_json_chunks(reports, now)))
    assert streamed == check_document(reports, now)
    assert len(streamed["deployments"]) == 9


def test_postgresql_gives_the_same_answer_as_sqlite(
    postgres_url: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = []
    for url in (sqlite_url, postgres_url):
        monkeypatch.setenv("SW_TEST_DB", url)
        if url.startswith("postgresql"):
            # PostgreSQL is migrated by `db upgrade` (a deploy step), never implicitly
            refused = invoke("check")
            assert refused.exit_code == 2
            assert "run `supportwatch db upgrade`" in refused.stderr
            assert invoke("db", "upgrade").exit_code == 0
        code, document = check_json("--at", "2026-08-01", "--fail-on", "never")
        assert code == 0
        answers.append(document["deployments"])
    assert answers[0] == answers[1]


@pytest.mark.usefixtures("env")
def test_accept_shrink_needs_a_source() -> None:
    result = invoke("poll", "--accept-shrink")
    assert result.exit_code == 2
    assert "--accept-shrink needs --source NAME" in result.stderr


def test_service_reuses_an_evaluation_for_the_same_day_and_catalog(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("SW_TEST_DB", sqlite_url)
    service = Service.open(load_settings(FIXTURE))
    try:
        service.apply_static(datetime(2026, 8, 1, tzinfo=UTC))
        first = service.evaluate(datetime(2026, 8, 1, 9, tzinfo=UTC))
        again = service.evaluate(datetime(2026, 8, 1, 17, tzinfo=UTC))
        assert [a is b for a, b in zip(first, again, strict=True)] == [True] * len(first)
        next_day = service.evaluate(datetime(2026, 8, 2, 9, tzinfo=UTC))
        assert next_day[0] is not first[0]
        # 1.7.1 is behind 2.0.0 (out since 2026-07-15): current is the newest stable minor.patch overall
        assert next_day[0].state.value == "behind"
        assert "behind_latest_patch" not in {f.kind.value for f in next_day[0].findings}
        newer = [Release("agent", "1.7.3", date(2026, 7, 21))]  # out for longer than the grace period
        service.store.record("extra", None, newer, seen_at=datetime.now(UTC))
        changed = service.evaluate(datetime(2026, 8, 2, 9, tzinfo=UTC))
        assert changed[0].deployment.name == "current"
        # a new catalog is evaluated afresh
        assert "behind_latest_patch" in {f.kind.value for f in changed[0].findings}
    finally:
        service.close()


def test_an_error_in_the_config_files_own_deployments_names_the_file_once(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("deployments:\n  - prod-east\n", encoding="utf-8")
    result = run_cli(config, "check")
    assert result.returncode == 2
    assert result.stderr == (
        f"supportwatch: error: config {config}: deployments[0]: "
        "must be a mapping of settings (key: value) (got a string)\n"
    )


@pytest.mark.usefixtures("env")
def test_an_ack_of_a_key_no_current_finding_has_is_kept_with_a_note() -> None:
    _, document = check_json("--fail-on", "never")
    real = by_name(document)["eol"]["findings"][0]["dedup_key"]
    known = invoke("ack", real)
    assert known.exit_code == 0 and "note:" not in known.stderr
    typo = invoke("ack", real + "x")
    assert typo.exit_code == 0
    assert typo.stdout == f"acknowledged {real}x until its facts change\n"
    assert typo.stderr == (
        "note: no current finding has this dedup_key; check its spelling against "
        "`supportwatch check --format json`\n"
    )


def test_a_check_of_no_deployments_says_so(tmp_path: Path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'sw.db'}\ndeployments: []\n", encoding="utf-8")
    result = run_cli(config, "check", "--fail-on", "info")
    assert result.returncode == 0
    assert (
        result.stderr
        == "note: no deployments are tracked: add deployments: or deployments_file: to the config\n"
    )
