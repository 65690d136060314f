from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from supportwatch.config import Settings, StaticSource, load_settings
from supportwatch.errors import ConfigError
from supportwatch.sources.static import static_releases
from supportwatch.values import Release
from supportwatch.versions import AgentVersion, RuntimeVersion

REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
GOOD_DEPLOYMENT = f"""
  - name: prod-east
    team: data-platform
    image: {REPO}:3.1-9-python-3.12-astro-agent-1.3.1
"""


def write(tmp_path: Path, text: str, name: str = "supportwatch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    return info.value


def test_bundled_config_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    settings = load_settings(root / "config" / "supportwatch.yaml")
    assert settings.maintenance_policy().maintenance_months == 6
    assert settings.deployments and settings.sources
    assert {s.kind for s in settings.sources} == {"static", "helm", "feed", "astro_updates"}
    assert settings.rules().compatibility


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert settings.database_url.startswith("sqlite:///")
    assert settings.policy.reminder_days == [60, 30, 14, 7, 1]
    assert settings.default_receiver == "console"


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_malformed_yaml_is_one_line_saying_where(tmp_path: Path) -> None:
    err = error_of(tmp_path, "policy: {id: x\nsources: [")
    path = str(tmp_path / "supportwatch.yaml")
    assert (
        err.message
        == f"{path!r} is not valid YAML: did not find expected ',' or '}}' at line 2, column 8 (while parsing a flow mapping)"
    )


def test_a_malformed_json_fleet_file_says_what_its_json_parser_found_where(tmp_path: Path) -> None:
    write(tmp_path, '{"deployments": [{"name": "a",, "team": "t"}]}', "fleet.json")
    err = error_of(tmp_path, "deployments_file: fleet.json\n")
    path = str(tmp_path / "fleet.json")
    assert (
        err.message
        == f"{path!r} is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 31"
    )


@pytest.mark.parametrize(
    ("text", "path", "suggestion"),
    [
        ("polcy: {}\n", "polcy", "did you mean 'policy'? "),
        ("web: {prot: 8080}\n", "web.prot", "did you mean 'port'? "),
        (
            "receivers:\n  - name: r\n    slack: {webhok_url: 'https://hooks.slack.com/services/T/B/X'}\n",
            "receivers[0].slack.webhok_url",
            "did you mean 'webhook_url'? ",
        ),
        (
            "sources:\n  - {name: x, kind: helm, url: 'https://h.example/index.yaml', chart: c, chrt: c}\n",
            "sources[0].chrt",
            "did you mean 'chart'? ",
        ),
        ("web: {colour: red}\n", "web.colour", ""),  # nothing close: no guess
    ],
)
def test_an_unknown_key_names_the_known_key_it_is_closest_to(
    tmp_path: Path, text: str, path: str, suggestion: str
) -> None:
    err = error_of(tmp_path, text)
    assert (err.path, err.message) == (
        path,
        f"unknown key; {suggestion}check its spelling against the documented config keys",
    )


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, "timezone: UTC\ntimezone: Europe/Berlin\n")
    assert "duplicate key 'timezone'" in str(err)
    assert err.path == "line 2"


def test_unknown_key_names_the_path(tmp_path: Path) -> None:
    err = error_of(tmp_path, "policy:\n  maintenence_months: 6\n")
    assert err.path == "policy.maintenence_months"
    assert "unknown key" in str(err)


def test_wrong_type_names_path_and_value(tmp_path: Path) -> None:
    err = error_of(tmp_path, "policy:\n  maintenance_months: six\n")
    assert err.path == "policy.maintenance_months"
    assert "'six'" in str(err)


def test_float_version_is_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, f"deployments:{GOOD_DEPLOYMENT}    chart_version: 2.0\n")
    assert err.path == "supportwatch.yaml: deployments[0] (prod-east).chart_version"
    assert "2.0" in str(err)


def test_invalid_tag_names_the_index(tmp_path: Path) -> None:
    text = (
        f"deployments:{GOOD_DEPLOYMENT}"
        + f"""
  - name: b
    team: t
    image: {REPO}:3.1-9-python-3.12-astro-agent-1.3.1
  - name: c
    team: t
    image: {REPO}:latest
"""
    )
    err = error_of(tmp_path, text)
    assert err.path == "supportwatch.yaml: deployments[2] (c).image"
    assert "'latest'" in str(err)
    assert "<runtime>-python-<py>-astro-agent-<x.y.z>" in str(err)


def test_duplicate_deployment_names(tmp_path: Path) -> None:
    err = error_of(tmp_path, f"deployments:{GOOD_DEPLOYMENT}{GOOD_DEPLOYMENT}")
    assert err.path == "supportwatch.yaml: deployments[1] (prod-east).name"
    assert "duplicate deployment name 'prod-east'" in str(err)


def test_route_to_unknown_team(tmp_path: Path) -> None:
    text = (
        f"deployments:{GOOD_DEPLOYMENT}routes:\n  - {{match: {{team: data-platfrom}}, receiver: console}}\n"
    )
    err = error_of(tmp_path, text)
    assert err.path == "routes[0].match.team"
    assert "'data-platfrom'" in str(err) and "data-platform" in str(err)


def test_route_to_unknown_receiver(tmp_path: Path) -> None:
    text = f"deployments:{GOOD_DEPLOYMENT}routes:\n  - {{match: {{team: data-platform}}, receiver: pager}}\n"
    err = error_of(tmp_path, text)
    assert err.path == "routes[0].receiver"


def test_bad_timezone_and_specifier(tmp_path: Path) -> None:
    assert error_of(tmp_path, "timezone: Mars/Olympus\n").path == "timezone"
    err = error_of(tmp_path, "compatibility:\n  - {chart: '=>2.0.0', agent: ['>=1.5.0']}\n")
    assert err.path == "compatibility[0].chart"


def test_bad_source_field_path_skips_the_kind_tag(tmp_path: Path) -> None:
    err = error_of(tmp_path, "sources:\n  - {name: idx, kind: helm, url: 'ftp://x'}\n")
    assert err.path == "sources[0].url"
    err = error_of(tmp_path, "sources:\n  - {name: idx, kind: gopher, url: 'https://x'}\n")
    assert err.path.startswith("sources[0]")


def test_env_interpolation_and_missing_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SW_TZ", "Europe/Berlin")
    assert load_settings(write(tmp_path, "timezone: ${SW_TZ}\n")).timezone == "Europe/Berlin"
    monkeypatch.delenv("SW_NOPE", raising=False)
    err = error_of(tmp_path, "timezone: ${SW_NOPE}\n")
    assert err.path == "timezone" and "SW_NOPE" in str(err)


def test_secret_file_twin_and_secret_never_in_errors(tmp_path: Path) -> None:
    (tmp_path / "hook").write_text("https://hooks.example.invalid/T000/B000/very-secret\n", encoding="utf-8")
    text = (
        f"deployments:{GOOD_DEPLOYMENT}receivers:\n  - name: r\n    slack: {{webhook_url_file: hook}}\n"
        "routes:\n  - {match: {team: data-platform}, receiver: r}\n"
    )
    settings = load_settings(write(tmp_path, text))
    slack = settings.receivers[0].slack
    assert slack is not None and slack.webhook_url is not None
    assert slack.webhook_url.get_secret_value().endswith("very-secret")
    assert "very-secret" not in repr(settings)
    err = error_of(tmp_path, "smtp: {host: h, sender: s@example.com, password: [very-secret]}\n")
    assert err.path == "smtp.password"
    assert "very-secret" not in str(err)


def test_missing_secret_file(tmp_path: Path) -> None:
    err = error_of(tmp_path, "smtp: {host: h, sender: s@example.com, password_file: nope}\n")
    assert err.path == "smtp.password_file"


def test_deployments_file_relative_to_config(tmp_path: Path) -> None:
    write(tmp_path, f"deployments:{GOOD_DEPLOYMENT}", "deps.yaml")
    settings = load_settings(write(tmp_path, "deployments_file: deps.yaml\n"))
    assert [d.name for d in settings.deployment_values()] == ["prod-east"]
    write(
        tmp_path,
        f"deployments:{GOOD_DEPLOYMENT}  - name: x\n    team: t\n    image: {REPO}:3.1\n",
        "deps.yaml",
    )
    assert error_of(tmp_path, "deployments_file: deps.yaml\n").path == "deps.yaml: deployments[1] (x).image"


def test_email_receiver_needs_smtp(tmp_path: Path) -> None:
    err = error_of(tmp_path, "receivers:\n  - {name: r, email: {to: [a@example.com]}}\n")
    assert err.path == "receivers[0].email"


def test_reminder_rungs_validated(tmp_path: Path) -> None:
    assert error_of(tmp_path, "policy: {reminder_days: [30, 0]}\n").path == "policy.reminder_days"
    ok = load_settings(write(tmp_path, "policy: {reminder_days: [7, 60, 30]}\n"))
    assert ok.policy.reminder_days == [60, 30, 7]


def test_static_release_errors_point_at_the_field(tmp_path: Path) -> None:
    head = "sources:\n  - name: pinned\n    kind: static\n    releases:\n"
    err = error_of(tmp_path, head + "      - {component: agent, version: '1.x'}\n")
    assert err.path == "sources[0].releases[0].version"
    err = error_of(tmp_path, head + "      - {component: runtime, version: '3.1.9'}\n")
    assert err.path == "sources[0].releases[0].version"
    assert "3.1-9" in str(err)
    err = error_of(
        tmp_path, head + "      - {component: agent, version: 1.2.3, image_tags: ['3.1-9', latest]}\n"
    )
    assert err.path == "sources[0].releases[0].image_tags[1]"


def test_unquoted_number_gets_a_quoting_hint(tmp_path: Path) -> None:
    err = error_of(
        tmp_path, "known_incompatibilities:\n  - {execution_runtime: 3.0, orchestration_runtime: '3.0-2'}\n"
    )
    assert err.path == "known_incompatibilities[0].execution_runtime"
    assert "quote it" in str(err)


def test_json_config_is_read_and_duplicate_keys_refused(tmp_path: Path) -> None:
    write(tmp_path, '{"deployments": []}', "deps.json")
    assert load_settings(write(tmp_path, "deployments_file: deps.json\n")).deployments == []
    err = error_of(tmp_path, '{"timezone": "UTC", "timezone": "Europe/Berlin"}')
    assert "duplicate key 'timezone'" in str(err)


def test_email_addresses_are_checked_and_international_domains_made_ascii(tmp_path: Path) -> None:
    base = "smtp: {host: h, sender: sw@example.com}\nreceivers:\n  - {name: r, email: {to: [%s]}}\n"
    settings = load_settings(write(tmp_path, base % "'team@bücher.example'"))
    assert settings.receivers[0].email is not None
    assert settings.receivers[0].email.to == ["team@xn--bcher-kva.example"]
    err = error_of(tmp_path, base % "'tëam@example.com'")
    assert err.path == "receivers[0].email.to[0]"
    assert "SMTPUTF8" in str(err)
    err = error_of(tmp_path, base % "'not-an-address'")
    assert err.path == "receivers[0].email.to[0]"
    assert error_of(tmp_path, "smtp: {host: h, sender: 'nobody'}\n").path == "smtp.sender"


def test_rules_and_policy_hold_values_parsed_at_load_and_are_built_once(tmp_path: Path) -> None:
    text = (
        "compatibility:\n  - {chart: '>=2.0.0', agent: ['>=1.5.0', '==1.3.0']}\n"
        "known_incompatibilities:\n  - {execution_runtime: '3.0-1', orchestration_runtime: '3.0-2', agent: '<1.1'}\n"
        "chart_upgrades:\n  - {to: 3.0.0, steps: [convert]}\n"
    )
    settings = load_settings(write(tmp_path, text))
    [rule] = settings.compatibility
    assert rule.chart == SpecifierSet(">=2.0.0")
    assert rule.agent == [SpecifierSet(">=1.5.0"), SpecifierSet("==1.3.0")]
    rules = settings.rules()
    assert rules is settings.rules()  # one object: its memos last across evaluations
    assert rules.compatibility[0].chart is rule.chart
    [bad] = rules.incompatibilities
    assert bad.execution_runtime == RuntimeVersion.parse("3.0-1")
    assert bad.agent == SpecifierSet("<1.1")
    assert [(u.to, u.steps) for u in rules.chart_upgrades] == [(AgentVersion.parse("3.0.0"), ("convert",))]
    assert settings.maintenance_policy() is settings.maintenance_policy()
    assert settings.model_dump()["compatibility"] == [{"chart": ">=2.0.0", "agent": [">=1.5.0", "==1.3.0"]}]


def test_the_default_chart_upgrade_is_the_vendors_2_0_0_steps() -> None:
    [upgrade] = Settings().rules().chart_upgrades
    assert upgrade.to == AgentVersion.parse("2.0.0")
    assert len(upgrade.steps) == 4


def test_bad_versions_and_specifiers_say_what_is_expected(tmp_path: Path) -> None:
    err = error_of(tmp_path, "compatibility:\n  - {chart: '>=2.0.0', agent: ['>=1.5.0', 'one']}\n")
    assert (err.path, err.message) == (
        "compatibility[0].agent[1]",
        "'one' is not a version specifier; expected e.g. '==1.5.0' or '>=2.0.0' (got 'one')",
    )
    err = error_of(tmp_path, "chart_upgrades:\n  - {to: '2.0', steps: [x]}\n")
    assert (err.path, err.message) == (
        "chart_upgrades[0].to",
        "'2.0' is not a semver version; expected MAJOR.MINOR.PATCH such as 1.3.1 (got '2.0')",
    )
    err = error_of(
        tmp_path, "known_incompatibilities:\n  - {execution_runtime: '3.0-1', orchestration_runtime: 3-0}\n"
    )
    assert (err.path, err.message) == (
        "known_incompatibilities[0].orchestration_runtime",
        "'3-0' is not an Astro Runtime version; expected <airflow major.minor>-<build> such as 3.1-9 "
        "(got '3-0')",
    )
    err = error_of(
        tmp_path, "known_incompatibilities:\n  - {execution_runtime: '3.0-1', orchestration_runtime: 3}\n"
    )
    assert (err.path, err.message) == (
        "known_incompatibilities[0].orchestration_runtime",
        "Input should be a valid string (got 3); YAML read it as a number: quote it",
    )


def test_a_static_release_is_the_release_its_source_reports(tmp_path: Path) -> None:
    text = (
        "sources:\n  - name: pinned\n    kind: static\n    releases:\n"
        "      - {component: agent, version: 1.6.0, released_on: 2026-04-16, "
        "image_tags: ['3.2-2-python-3.12-astro-agent-1.6.0'], yanked: true}\n"
        "      - {component: chart, version: 2.0.0, app_version: 1.5.0, channel: beta}\n"
    )
    [source] = load_settings(write(tmp_path, text)).sources
    assert isinstance(source, StaticSource)
    assert [item.to_release() for item in source.releases] == static_releases(source)
    assert source.releases[0].to_release() == Release(
        "agent", "1.6.0", date(2026, 4, 16), image_tags=("3.2-2-python-3.12-astro-agent-1.6.0",), yanked=True
    )
