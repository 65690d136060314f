"""deploy/compose.yaml: PostgreSQL + supportwatch, with the chart's variable names and no secret in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
HELPERS = ROOT / "deploy" / "helm" / "supportwatch" / "templates" / "_helpers.tpl"
TEXT = COMPOSE.read_text(encoding="utf-8")
# PyYAML resolves the x-supportwatch anchor and its << merges, as Compose does
SPEC: dict[str, Any] = yaml.safe_load(TEXT)
SERVICES: dict[str, dict[str, Any]] = SPEC["services"]
APP = ("migrate", "supportwatch")
# a value that only refers to the environment: ${NAME}, ${NAME:?message} or ${NAME:-default}
ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?[?-][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|WEBHOOK", re.IGNORECASE)


def chart_env_names() -> set[str]:
    return set(re.findall(r"- name: (SUPPORTWATCH_\w+)", HELPERS.read_text(encoding="utf-8")))


def test_the_services_use_the_environment_names_the_chart_uses() -> None:
    names = chart_env_names()
    assert names == {"SUPPORTWATCH_CONFIG", "SUPPORTWATCH_DATABASE_URL"}
    for name in APP:
        assert set(SERVICES[name]["environment"]) == names, name
    assert "SW_DATABASE_URL" not in TEXT


def test_postgres_first_then_the_migration_then_the_service() -> None:
    assert set(SERVICES) == {"postgres", *APP}
    postgres = SERVICES["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+[\w.-]*", postgres["image"]), "pinned to a minor release"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    migrate, service = SERVICES["migrate"], SERVICES["supportwatch"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert service["command"] == ["run", "--host", "0.0.0.0", "--port", "8080"]
    assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert service["ports"] == ["127.0.0.1:8080:8080"], "the dashboard is published on loopback only"
    check = service["healthcheck"]
    assert check["test"][0] == "CMD"
    assert "http://127.0.0.1:8080/readyz" in check["test"][-1]
    url = service["environment"]["SUPPORTWATCH_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://supportwatch:")
    assert url.endswith("@postgres:5432/supportwatch")


def test_the_app_runs_unprivileged_on_a_read_only_root() -> None:
    for name in APP:
        service = SERVICES[name]
        assert service["read_only"] is True, name
        assert any(mount.split(":")[0] == "/tmp" for mount in service["tmpfs"]), name
        assert service["user"] == "10001:10001", name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "../config:/etc/supportwatch:ro" in service["volumes"], name


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [pair for key, value in node.items() for pair in _strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [pair for index, item in enumerate(node) for pair in _strings(item, f"{path}[{index}]")]
    return [(path, node)] if isinstance(node, str) else []


def test_no_secret_is_inlined() -> None:
    for path, value in _strings(SPEC):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key):
            assert ENV_REF.fullmatch(value), f"{path} must come from the environment, not the file"
        # a URL's password is a reference too
        for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
            assert ENV_REF.fullmatch(password), f"{path}: the password in the URL is inlined"
        assert not re.search(r"hooks\.slack\.com|xox[abposr]-", value), path
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
