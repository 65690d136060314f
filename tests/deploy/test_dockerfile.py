"""The image, checked from the Dockerfile itself (no container engine is needed)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
CHART = ROOT / "deploy" / "helm" / "supportwatch"
UID = "10001"
DATA_DIR = "/var/lib/supportwatch"
# an exact version (python:3.12.8-slim-bookworm) or a digest; never a moving tag
PINNED = re.compile(r"[\w./-]+(:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """A JSON (exec form) argument list; fails the test on the shell form."""
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            pytest.fail(f"Dockerfile line {self.line}: {self.keyword} is not in exec form: {self.args}")
        assert isinstance(value, list), (self.line, self.args)
        return [str(item) for item in value]


def parse(text: str) -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, continuation lines joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, args = " ".join(part for part in pending if part).partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


INSTRUCTIONS = parse(DOCKERFILE.read_text(encoding="utf-8"))


def stages() -> list[list[Instruction]]:
    """The instructions of each build stage (ARGs before the first FROM are left out)."""
    result: list[list[Instruction]] = []
    for instruction in INSTRUCTIONS:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


FINAL = stages()[-1]


def final(keyword: str) -> list[Instruction]:
    return [i for i in FINAL if i.keyword == keyword]


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for item in shlex.split(instruction.args):
                key, sep, value = item.partition("=")
                assert sep, f"line {instruction.line}: write ENV as KEY=value"
                env[key] = value
    return env


def test_the_parser_joins_continuations_and_drops_comments() -> None:
    parsed = parse('# c\nFROM a:1.2.3 AS x\nRUN one \\\n    # inside\n && two\nCMD ["x"]\n')
    assert [(i.keyword, i.args) for i in parsed] == [
        ("FROM", "a:1.2.3 AS x"),
        ("RUN", "one && two"),
        ("CMD", '["x"]'),
    ]


def test_multi_stage_on_a_base_pinned_by_version() -> None:
    global_args = {}
    for instruction in INSTRUCTIONS:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            global_args[name] = default
    froms = [stage[0] for stage in stages()]
    assert len(froms) >= 2, "a build stage and a runtime stage"
    stage_names = set()
    for instruction in froms:
        image, *rest = instruction.args.split()
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), image)
        if image not in stage_names:
            assert PINNED.fullmatch(image), f"line {instruction.line}: base image {image!r} is not pinned"
            assert not image.endswith(":latest")
        if rest:
            assert rest[0].upper() == "AS"
            stage_names.add(rest[1])
    assert global_args.get("PYTHON_IMAGE", "").startswith("python:3.12.")
    copies = final("COPY")
    assert any(i.args.startswith("--from=build ") for i in copies), "the runtime copies the build's result"
    assert not [i for i in INSTRUCTIONS if i.keyword == "ADD"], (
        "COPY only: ADD fetches URLs and unpacks archives"
    )


def test_runs_as_the_numeric_non_root_user_the_chart_uses() -> None:
    users = final("USER")
    assert users, "the runtime stage sets USER"
    assert users[-1].args == f"{UID}:{UID}"
    assert FINAL.index(users[-1]) > max(FINAL.index(i) for i in final("RUN")), "no RUN after USER"
    created = " ".join(i.args for i in final("RUN"))
    assert f"--uid {UID}" in created
    assert f"--gid {UID}" in created
    # the data dir exists, owned by the user, so a volume over it starts writable
    assert re.search(rf"install -d -o {UID} -g {UID} -m 0\d{{3}} {DATA_DIR}\b", created)
    helpers = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    deployment = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8")
    assert f"runAsUser: {UID}" in helpers
    assert f"runAsUser: {UID}" in deployment
    assert f"fsGroup: {UID}" in deployment


def test_works_on_a_read_only_root_filesystem() -> None:
    [volume] = final("VOLUME")
    assert set(volume.exec_form()) == {"/tmp", DATA_DIR}
    env = env_of(FINAL)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == DATA_DIR, "anything written under HOME lands in the data volume"
    [workdir] = final("WORKDIR")
    assert workdir.args == DATA_DIR, "the bundled config's relative SQLite path lands in the data volume"


def test_the_config_path_is_the_one_the_chart_and_compose_use() -> None:
    env = env_of(FINAL)
    assert env["SUPPORTWATCH_CONFIG"] == "/etc/supportwatch/supportwatch.yaml"
    assert any(i.args == "config /etc/supportwatch" for i in final("COPY"))
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    assert compose["x-supportwatch"]["environment"]["SUPPORTWATCH_CONFIG"] == env["SUPPORTWATCH_CONFIG"]
    assert "/opt/supportwatch/bin" in env["PATH"].split(":")


def test_healthcheck_asks_healthz() -> None:
    [check] = final("HEALTHCHECK")
    options, _, command = check.args.partition(" CMD ")
    assert re.search(r"--interval=\d+s", options)
    assert re.search(r"--timeout=\d+s", options)
    argv = json.loads(command)
    assert argv[0] == "python", "slim has no curl"
    assert "http://127.0.0.1:8080/healthz" in argv[-1]


def test_the_default_command_is_the_service() -> None:
    [entrypoint] = final("ENTRYPOINT")
    [cmd] = final("CMD")
    assert entrypoint.exec_form() == ["supportwatch"]
    assert cmd.exec_form() == ["run", "--host", "0.0.0.0"]
    [expose] = final("EXPOSE")
    assert expose.args == "8080"
