from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportwatch.errors import VersionError
from supportwatch.versions import AgentVersion, ImageRef, ImageTag, PythonVersion, RuntimeVersion

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.3.1", AgentVersion(1, 3, 1)),
        ("v2.0.0", AgentVersion(2, 0, 0)),
        ("1.8.0-rc.1", AgentVersion(1, 8, 0, ("rc", "1"))),
        ("1.8.0+build.5", AgentVersion(1, 8, 0)),
    ],
)
def test_agent_version_parses(text: str, expected: AgentVersion) -> None:
    assert AgentVersion.parse(text) == expected


@pytest.mark.parametrize("text", ["1.3", "1.3.1.4", "01.3.1", "latest", "", "1.3.x"])
def test_agent_version_rejects_with_the_value_named(text: str) -> None:
    with pytest.raises(VersionError, match=r"MAJOR\.MINOR\.PATCH") as info:
        AgentVersion.parse(text)
    assert repr(text) in str(info.value)


def test_agent_version_semver_ordering() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
    ]
    parsed = [AgentVersion.parse(text) for text in ordered]
    assert sorted(parsed) == parsed
    assert AgentVersion.parse("1.8.0-rc.1").is_prerelease
    assert not AgentVersion.parse("1.8.0").is_prerelease


def test_runtime_orders_builds_numerically() -> None:
    assert RuntimeVersion.parse("3.1-10") > RuntimeVersion.parse("3.1-9")
    assert RuntimeVersion.parse("3.2-1") > RuntimeVersion.parse("3.1-99")
    assert RuntimeVersion.parse("3.0-13") < RuntimeVersion.parse("3.1-1")
    assert str(RuntimeVersion.parse("3.1-10")) == "3.1-10"


@pytest.mark.parametrize("text", ["3.1", "3.1.9", "11.4.0", "3-1-9", "3.1-", "x"])
def test_runtime_rejects(text: str) -> None:
    with pytest.raises(VersionError, match=r"3\.1-9"):
        RuntimeVersion.parse(text)


def test_python_versions_order_numerically() -> None:
    assert PythonVersion.parse("3.14") > PythonVersion.parse("3.9")


@pytest.mark.parametrize(
    ("tag", "fixed", "base", "python", "agent"),
    [
        ("3.1-9-python-3.12-astro-agent-1.3.1", True, False, "3.12", "1.3.1"),
        ("3.1-9-python-3.12-astro-agent-1.3.1-base", True, True, "3.12", "1.3.1"),
        ("3.1-9", False, False, None, None),
        ("3.1-9-python-3.12", False, False, "3.12", None),
        ("3.1-9-base", False, True, None, None),
        ("3.1-9-python-3.12-base", False, True, "3.12", None),
        ("3.2-5-python-3.14-astro-agent-1.8.0-rc.1", True, False, "3.14", "1.8.0-rc.1"),
        ("3.2-5-python-3.14-astro-agent-1.8.0-rc.1-base", True, True, "3.14", "1.8.0-rc.1"),
    ],
)
def test_tag_formats(tag: str, fixed: bool, base: bool, python: str | None, agent: str | None) -> None:
    parsed = ImageTag.parse(tag)
    assert parsed.fixed is fixed
    assert parsed.base is base
    assert (str(parsed.python) if parsed.python else None) == python
    assert (str(parsed.agent) if parsed.agent else None) == agent
    assert str(parsed) == tag


@pytest.mark.parametrize(
    "tag",
    [
        "latest",
        "3.1",
        "3.1-9-astro-agent-1.3.1",
        "3.1-9-python-3.12-astro-agent-1.3",
        "3.1-9-python3.12",
        "3.1-9-slim",
    ],
)
def test_tag_rejects_naming_the_formats(tag: str) -> None:
    with pytest.raises(VersionError) as info:
        ImageTag.parse(tag)
    assert repr(tag) in str(info.value)
    assert "<runtime>-python-<py>-astro-agent-<x.y.z>" in str(info.value)


@pytest.mark.parametrize(
    ("tag", "agent", "base"),
    [
        ("3.1-9-python-3.12-astro-agent-1.7.0-rc1", "1.7.0-rc1", False),
        ("3.1-9-python-3.12-astro-agent-1.7.0-rc1-base", "1.7.0-rc1", True),
        ("3.1-9-python-3.12-astro-agent-1.7.0-beta.2", "1.7.0-beta.2", False),
        ("3.1-9-python-3.12-astro-agent-1.7.0-database", "1.7.0-database", False),
    ],
)
def test_genuine_prereleases_still_parse(tag: str, agent: str, base: bool) -> None:
    parsed = ImageTag.parse(tag)
    assert str(parsed.agent) == agent
    assert parsed.agent is not None and parsed.agent.is_prerelease
    assert parsed.base is base


def test_upper_case_base_is_refused_not_read_as_a_prerelease() -> None:
    with pytest.raises(VersionError) as info:
        ImageTag.parse("3.1-9-python-3.12-astro-agent-1.3.1-BASE")
    assert str(info.value) == (
        "image tag '3.1-9-python-3.12-astro-agent-1.3.1-BASE' writes the base flavour as '-BASE'; "
        "the flavour suffix is written -base in lower case, as in '3.1-9-python-3.12-astro-agent-1.3.1-base'"
    )


@pytest.mark.parametrize(
    ("tag", "written", "fixed"),
    [
        ("3.1-9-python-3.12-astro-agent-1.3.1-Base", "-Base", "3.1-9-python-3.12-astro-agent-1.3.1-base"),
        (
            "3.1-9-python-3.12-astro-agent-1.7.0-rc1-BASE",
            "-BASE",
            "3.1-9-python-3.12-astro-agent-1.7.0-rc1-base",
        ),
        ("3.1-9-python-3.12-BASE", "-BASE", "3.1-9-python-3.12-base"),
        ("3.1-9-bAsE", "-bAsE", "3.1-9-base"),
        # not a base tag once lower-cased: the message shows an example instead
        ("3.1-9-python-3.12-astro-agent-1.3.1-BASE.1", "-BASE", "3.1-9-python-3.12-astro-agent-1.3.1-base"),
    ],
)
def test_any_case_but_lower_base_is_refused_with_the_fix(tag: str, written: str, fixed: str) -> None:
    with pytest.raises(VersionError) as info:
        ImageTag.parse(tag)
    message = str(info.value)
    assert f"writes the base flavour as {written!r}" in message
    assert "the flavour suffix is written -base in lower case" in message
    assert message.endswith(f"as in {fixed!r}")


def test_upper_case_base_is_refused_in_an_image_reference() -> None:
    with pytest.raises(VersionError, match="written -base in lower case"):
        ImageRef.parse(f"{REPO}:3.1-9-python-3.12-astro-agent-1.3.1-BASE")


def test_image_ref_with_tag_and_digest() -> None:
    ref = ImageRef.parse(f"{REPO}:3.1-9-python-3.12-astro-agent-1.3.1@{DIGEST}")
    assert ref.repository == REPO
    assert ref.tag is not None and str(ref.tag.agent) == "1.3.1"
    assert ref.digest == DIGEST
    assert str(ref) == f"{REPO}:3.1-9-python-3.12-astro-agent-1.3.1@{DIGEST}"


def test_image_ref_digest_only_and_registry_port() -> None:
    ref = ImageRef.parse(f"{REPO}@{DIGEST}")
    assert ref.tag is None and ref.digest == DIGEST
    ported = ImageRef.parse("registry.local:5000/astro/agent:3.1-9")
    assert ported.repository == "registry.local:5000/astro/agent"
    assert ported.tag is not None and not ported.tag.fixed


@pytest.mark.parametrize(
    "text",
    [
        REPO,
        f"{REPO}:",
        f"{REPO}:latest",
        f"{REPO}@sha256:abc",
        ":3.1-9",
        f"{REPO}:3.1-9 extra",
    ],
)
def test_image_ref_rejects(text: str) -> None:
    with pytest.raises(VersionError):
        ImageRef.parse(text)


numbers = st.integers(min_value=0, max_value=10_000)
identifiers = st.from_regex(r"[0-9A-Za-z-]{1,8}", fullmatch=True).filter(
    lambda part: not (part.isdigit() and len(part) > 1 and part.startswith("0"))
)
agent_versions = st.builds(
    AgentVersion, numbers, numbers, numbers, st.lists(identifiers, max_size=3).map(tuple)
)
runtimes = st.builds(RuntimeVersion, st.integers(0, 9), st.integers(0, 20), st.integers(0, 500))
pythons = st.builds(PythonVersion, st.just(3), st.integers(8, 20))


def tag_safe(version: AgentVersion) -> bool:
    """Whether ``version`` can stand in a tag as itself: no "base" flavour lookalike in it."""
    text = str(version)
    miscased = any(found[0] != "-base" for found in re.finditer(r"(?i)-base(?=$|[-.])", text))
    return not text.endswith("base") and not miscased


@given(agent_versions)
def test_agent_version_round_trip(version: AgentVersion) -> None:
    assert AgentVersion.parse(str(version)) == version


@given(runtimes)
def test_runtime_round_trip(runtime: RuntimeVersion) -> None:
    assert RuntimeVersion.parse(str(runtime)) == runtime


@given(
    runtimes,
    st.one_of(st.none(), pythons),
    # a pre-release ending in "base" reads as the -base flavour (the vendor's format is ambiguous
    # there), and "-BASE" in any other case is refused
    st.one_of(st.none(), agent_versions.filter(tag_safe)),
    st.booleans(),
)
def test_tag_round_trip(
    runtime: RuntimeVersion, python: PythonVersion | None, agent: AgentVersion | None, base: bool
) -> None:
    if agent is not None and python is None:
        python = PythonVersion(3, 12)
    tag = ImageTag(runtime, python, agent, base)
    assert ImageTag.parse(str(tag)) == tag


@given(agent_versions, agent_versions)
def test_ordering_is_total_and_consistent(a: AgentVersion, b: AgentVersion) -> None:
    assert (a < b) + (a > b) + (a == b) == 1
