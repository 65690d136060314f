"""Deployment settings: the agent image repository, namespace and release, and error locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportwatch.config import load_settings
from supportwatch.errors import ConfigError
from supportwatch.versions import AgentVersion, ImageRef, RuntimeVersion

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
TAG = "3.1-9-python-3.12-astro-agent-1.3.1"


def deployment(name: str = "prod-east", image: str = f"{REPO}:{TAG}", **extra: str) -> str:
    keys = "".join(f", {key}: {value!r}" for key, value in extra.items())
    return f"  - {{name: {name}, team: data-platform, image: {image!r}{keys}}}\n"


def write(tmp_path: Path, text: str, name: str = "supportwatch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return info.value


# --- the agent image repository ---------------------------------------------------------------


@pytest.mark.parametrize(
    "repository",
    [
        REPO,
        "registry.example.com/mirror/astro-remote-execution-agent",
        "registry.local:5000/astro-remote-execution-agent",
    ],
)
def test_agent_images_and_their_mirrors_load(tmp_path: Path, repository: str) -> None:
    settings = load_settings(write(tmp_path, "deployments:\n" + deployment(image=f"{repository}:{TAG}")))
    [loaded] = settings.deployment_values()
    assert loaded.image.repository == repository


def test_runtime_image_is_refused_naming_the_deployment_and_the_agent_repository(tmp_path: Path) -> None:
    image = "images.astronomer.cloud/baseimages/astro-runtime:3.1-9"
    err = error_of(write(tmp_path, "deployments:\n" + deployment() + deployment("prod-west", image)))
    assert err.path == "supportwatch.yaml: deployments[1] (prod-west).image"
    assert err.message == (
        "repository 'images.astronomer.cloud/baseimages/astro-runtime' is not an agent image repository; "
        "agent images live in a repository named 'astro-remote-execution-agent': use "
        "images.astronomer.cloud/baseimages/astro-remote-execution-agent or a mirror whose path ends in "
        "/astro-remote-execution-agent (got 'images.astronomer.cloud/baseimages/astro-runtime:3.1-9')"
    )


@pytest.mark.parametrize(
    "repository",
    [
        "registry.example.com/mirror/astro-runtime",
        "registry.example.com/astro-remote-execution-agent/agent",  # the name must be the last segment
        "registry.example.com/mirror/astro-remote-execution-agent-fork",
        "registry.example.com/mirror/Astro-Remote-Execution-Agent",
    ],
)
def test_other_repositories_are_refused(tmp_path: Path, repository: str) -> None:
    err = error_of(write(tmp_path, "deployments:\n" + deployment(image=f"{repository}:{TAG}")))
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).image"
    assert f"repository {repository!r} is not an agent image repository" in err.message
    assert "named 'astro-remote-execution-agent'" in err.message


def test_digest_only_image_in_another_repository_is_refused(tmp_path: Path) -> None:
    image = "registry.example.com/astro-runtime@sha256:" + "ab" * 32
    err = error_of(write(tmp_path, "deployments:\n" + deployment(image=image)))
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).image"
    assert "'astro-remote-execution-agent'" in err.message


# --- namespace and release --------------------------------------------------------------------


def test_namespace_and_release_feed_the_deployment(tmp_path: Path) -> None:
    text = "deployments:\n" + deployment(namespace="astro-agent", release="astro-agent-2")
    [loaded] = load_settings(write(tmp_path, text)).deployment_values()
    assert loaded.namespace == "astro-agent"
    assert loaded.helm_release == "astro-agent-2"


@pytest.mark.parametrize("value", ["a", "0", "astro-agent", "team-1-agents", "a" * 53])
def test_good_namespaces_and_releases_load(tmp_path: Path, value: str) -> None:
    text = "deployments:\n" + deployment(namespace=value, release=value)
    [loaded] = load_settings(write(tmp_path, text)).deployment_values()
    assert (loaded.namespace, loaded.helm_release) == (value, value)


def test_namespace_may_be_63_characters_a_release_only_53(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "deployments:\n" + deployment(namespace="a" * 63))).deployments
    err = error_of(write(tmp_path, "deployments:\n" + deployment(release="a" * 54)))
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).release"
    err = error_of(write(tmp_path, "deployments:\n" + deployment(namespace="a" * 64)))
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).namespace"


BAD_LABELS = [
    "prod; rm -rf /",
    "$(reboot)",
    "`id`",
    "astro agent",
    "Astro-Agent",
    "astro_agent",
    "astro.agent",
    "-astro",
    "astro-",
    "",
]


@pytest.mark.parametrize("value", BAD_LABELS)
def test_bad_namespace_is_refused_naming_the_key_and_the_rule(tmp_path: Path, value: str) -> None:
    err = error_of(write(tmp_path, "deployments:\n" + deployment(namespace=value)))
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).namespace"
    assert err.message == (
        "must be a Kubernetes namespace (a DNS-1123 label): lower-case letters, digits and '-', "
        f"starting and ending with a letter or digit, at most 63 characters (got {value!r})"
    )


@pytest.mark.parametrize("value", BAD_LABELS)
def test_bad_release_is_refused_naming_the_key_and_the_rule(tmp_path: Path, value: str) -> None:
    err = error_of(write(tmp_path, "deployments:\n" + deployment(release=value)))
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).release"
    assert err.message == (
        "must be a Helm release name: lower-case letters, digits and '-', "
        f"starting and ending with a letter or digit, at most 53 characters (got {value!r})"
    )


# --- where an error about a deployment points ---------------------------------------------------


def test_error_in_deployments_file_names_that_file_the_index_and_the_name(tmp_path: Path) -> None:
    good = "".join(deployment(f"d{index}") for index in range(3))
    write(tmp_path, "deployments:\n" + good + deployment("prod-west", f"{REPO}:latest"), "deployments.yaml")
    err = error_of(write(tmp_path, "deployments_file: deployments.yaml\n"))
    assert err.path == "deployments.yaml: deployments[3] (prod-west).image"
    assert str(err).startswith(
        "deployments.yaml: deployments[3] (prod-west).image: image tag 'latest' is not an agent image tag; "
        "expected one of: "
    )


def test_deployments_file_in_a_subdirectory_is_named_as_written(tmp_path: Path) -> None:
    (tmp_path / "fleet").mkdir()
    write(tmp_path, "- {name: a, team: t, image: 'r/astro-runtime:3.1-9'}\n", "fleet/prod.yaml")
    err = error_of(write(tmp_path, "deployments_file: fleet/prod.yaml\n"))
    assert err.path == "fleet/prod.yaml: deployments[0] (a).image"


def test_json_deployments_file_is_named_too(tmp_path: Path) -> None:
    write(tmp_path, '[{"name": "a", "team": "t", "image": "r/x:3.1-9"}]', "deps.json")
    assert (
        error_of(write(tmp_path, "deployments_file: deps.json\n")).path
        == "deps.json: deployments[0] (a).image"
    )


def test_inline_deployment_error_names_the_config_file(tmp_path: Path) -> None:
    text = "deployments:\n" + deployment() + deployment("b", f"{REPO}:3.1-9", chart_version="two")
    err = error_of(write(tmp_path, text, "team.yaml"))
    assert err.path == "team.yaml: deployments[1] (b).chart_version"
    assert "'two'" in err.message


def test_missing_key_names_the_deployment(tmp_path: Path) -> None:
    err = error_of(
        write(tmp_path, "deployments:\n  - {name: a, image: 'r/astro-remote-execution-agent:3.1-9'}\n")
    )
    assert err.path == "supportwatch.yaml: deployments[0] (a).team"
    assert err.message == "is required but missing"


def test_an_unknown_key_in_a_deployment_is_named_with_the_fix(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "deployments:\n" + deployment() + deployment("b", namspace="etl")))
    assert err.path == "supportwatch.yaml: deployments[1] (b).namspace"
    assert (
        err.message
        == "unknown key; did you mean 'namespace'? check its spelling against the documented config keys"
    )


def test_a_deployment_that_is_not_a_mapping_says_what_stands_there(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "deployments:\n" + deployment() + "  - prod-west\n"))
    assert err.path == "supportwatch.yaml: deployments[1]"
    assert err.message == "must be a mapping of settings (key: value) (got a string)"


@pytest.mark.parametrize(
    "item",
    [
        "{team: t, image: 'r/x:3.1-9'}",  # no name
        "{name: 'prod west', team: t, image: 'r/astro-remote-execution-agent:3.1-9'}",  # unusable
        "{name: 42, team: t, image: 'r/astro-remote-execution-agent:3.1-9'}",  # not a string
    ],
)
def test_no_usable_name_omits_the_parenthesised_part(tmp_path: Path, item: str) -> None:
    err = error_of(write(tmp_path, f"deployments:\n  - {item}\n"))
    assert err.path.startswith("supportwatch.yaml: deployments[0].")


def test_duplicate_name_in_deployments_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, deployment() + deployment(), "deps.yaml")
    err = error_of(write(tmp_path, "deployments_file: deps.yaml\n"))
    assert err.path == "deps.yaml: deployments[1] (prod-east).name"
    assert (
        err.message == "duplicate deployment name 'prod-east' (first at deployments[0]); names must be unique"
    )


def test_missing_environment_variable_in_a_deployment_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SW_NO_NAMESPACE", raising=False)
    write(tmp_path, deployment(namespace="${SW_NO_NAMESPACE}"), "deps.yaml")
    err = error_of(write(tmp_path, "deployments_file: deps.yaml\n"))
    assert err.path == "deps.yaml: deployments[0] (prod-east).namespace"
    assert "SW_NO_NAMESPACE" in err.message
    inline = error_of(write(tmp_path, "deployments:\n" + deployment(namespace="${SW_NO_NAMESPACE}")))
    assert inline.path == "supportwatch.yaml: deployments[0] (prod-east).namespace"


def test_environment_variables_still_fill_deployments_and_the_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SW_DEPS", "deps.yaml")
    monkeypatch.setenv("SW_NS", "astro-agent")
    write(tmp_path, deployment(namespace="${SW_NS}"), "deps.yaml")
    [loaded] = load_settings(write(tmp_path, "deployments_file: ${SW_DEPS}\n")).deployment_values()
    assert loaded.namespace == "astro-agent"


def test_duplicate_key_in_deployments_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "- name: a\n  name: b\n", "deps.yaml")
    err = error_of(write(tmp_path, "deployments_file: deps.yaml\n"))
    assert err.path == "deps.yaml: line 2"
    assert "duplicate key 'name'" in err.message


def test_missing_deployments_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "deployments_file: nope.yaml\n"))
    assert err.path == "deployments_file"
    assert "'nope.yaml' does not exist" in err.message
    assert str(tmp_path / "nope.yaml") in err.message


def test_both_inline_and_file_deployments_are_refused(tmp_path: Path) -> None:
    write(tmp_path, deployment(), "deps.yaml")
    err = error_of(write(tmp_path, "deployments_file: deps.yaml\ndeployments:\n" + deployment()))
    assert err.path == "deployments_file"
    assert err.message == "set either deployments or deployments_file, not both"


def test_non_deployment_errors_keep_their_plain_paths(tmp_path: Path) -> None:
    text = "deployments:\n" + deployment() + "routes:\n  - {match: {team: nobody}, receiver: console}\n"
    assert error_of(write(tmp_path, text)).path == "routes[0].match.team"
    assert error_of(write(tmp_path, "deployments: 5\n")).path == "deployments"


# --- parsed once, at load ---------------------------------------------------------------------


def test_a_deployment_setting_holds_the_parsed_values_and_writes_back_its_text(tmp_path: Path) -> None:
    text = "deployments:\n" + deployment(chart_version="2.0.0", orchestration_runtime="3.1-9")
    settings = load_settings(write(tmp_path, text))
    [item] = settings.deployments
    assert item.image == ImageRef.parse(f"{REPO}:{TAG}")
    assert item.chart_version == AgentVersion.parse("2.0.0")
    assert item.orchestration_runtime == RuntimeVersion.parse("3.1-9")
    [dumped] = settings.model_dump()["deployments"]
    assert dumped == {
        "name": "prod-east",
        "team": "data-platform",
        "image": f"{REPO}:{TAG}",
        "chart_version": "2.0.0",
        "orchestration_runtime": "3.1-9",
        "platform": "linux",
        "namespace": None,
        "release": None,
    }
    [value] = settings.deployment_values()
    assert value.image is item.image  # the value is assembled, not parsed again
    assert value.chart_version is item.chart_version
    assert value.orchestration_runtime is item.orchestration_runtime


def test_deployment_values_are_built_once_per_settings_object(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "deployments:\n" + deployment() + deployment("prod-west")))
    first, second = settings.deployment_values(), settings.deployment_values()
    assert first == second
    assert all(a is b for a, b in zip(first, second, strict=True))
    first.clear()  # a caller's list is its own
    assert [d.name for d in settings.deployment_values()] == ["prod-east", "prod-west"]
    # a copy with other deployments gets its own values, and the original keeps its own
    fewer = settings.model_copy(update={"deployments": settings.deployments[1:]})
    assert [d.name for d in fewer.deployment_values()] == ["prod-west"]
    assert [d.name for d in settings.deployment_values()] == ["prod-east", "prod-west"]
