"""Config hardening: secrets never in errors, database URLs, Slack URLs, YAML bombs and limits.

Every bad input ends in a ConfigError naming the key path and the fix (the CLI: exit 2, no
traceback), and no message ever shows a secret. Secrets in these tests carry the marker
``S3CR3T`` so that any piece of one in a message is found.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from supportwatch.cli import app
from supportwatch.config import (
    MAX_NESTING,
    HttpSettings,
    NotifySettings,
    PolicySettings,
    ScheduleSettings,
    SmtpSettings,
    SourceHealthSettings,
    WebSettings,
    load_settings,
    redact_url,
    render_database_url,
)
from supportwatch.errors import ConfigError

MARK = "S3CR3T"
REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
HOOK = f"https://hooks.slack.com/services/T000/B000/{MARK}hook"
BOT = f"xoxb-{MARK}-bot"
ALIASES = "YAML anchors and aliases are not supported in the config; write the values out"


def write(tmp_path: Path, text: str, name: str = "supportwatch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return info.value


def cli_stderr(path: Path, *args: str) -> str:
    """Run ``check`` (or ``args``) on ``path``; assert exit 2 without a traceback; the stderr."""
    result = CliRunner().invoke(app, ["--config", str(path), *(args or ("check",))])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return str(result.stderr)


def assert_hidden(text: str, *secrets: str) -> None:
    assert MARK not in text, text
    for secret in secrets:
        assert secret not in text, text


# --- 1. secrets never appear in config errors -------------------------------------------------

SECRET_ENV = {
    "SW_T_PASSWORD": f"pw-{MARK}-smtp",
    "SW_T_TOKEN": f"xoxb-{MARK}-env",
    "SW_T_QUOTED": f'it\'s-a-\\{MARK}\\-"quoted"',
    "SW_T_LONG": MARK * 40,
}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "hook").write_text(HOOK + "\n", encoding="utf-8")
    (tmp_path / "smtp-password").write_text(f"file-{MARK}-pw\n", encoding="utf-8")
    return SECRET_ENV


SECRET_CASES = [
    # (config, error path, expected message)
    (
        f"receivers:\n  - name: r\n    slack: {{webhook_url: '{HOOK}', token: {BOT}}}\n",
        "receivers[0].slack",
        "set exactly one of webhook_url or token (with channel) "
        "(got a mapping with keys webhook_url, token; values not shown: they hold a secret)",
    ),
    (
        f"receivers:\n  - name: r\n    slack: {{token: {BOT}}}\n",
        "receivers[0].slack",
        "a bot token needs a channel, e.g. channel: '#agent-alerts' "
        "(got a mapping with keys token; values not shown: they hold a secret)",
    ),
    (
        "receivers:\n  - name: r\n    slack: {token: '${SW_T_TOKEN}'}\n",
        "receivers[0].slack",
        "a bot token needs a channel, e.g. channel: '#agent-alerts' "
        "(got a mapping with keys token; values not shown: they hold a secret)",
    ),
    (
        "receivers:\n  - name: r\n    slack: {webhook_url_file: hook, token: x}\n",
        "receivers[0].slack",
        "set exactly one of webhook_url or token (with channel) "
        "(got a mapping with keys webhook_url, token; values not shown: they hold a secret)",
    ),
    (
        'smtp: "${SW_T_PASSWORD}"\n',
        "smtp",
        "must be a mapping of settings (key: value) (got a string)",
    ),
    (
        'smtp: "prefix-${SW_T_LONG}"\n',
        "smtp",
        "must be a mapping of settings (key: value) (got a string)",
    ),
    (
        "timezone: ${SW_T_QUOTED}\n",
        "timezone",
        "'${SW_T_QUOTED}' is not an IANA time zone; expected e.g. UTC or Europe/Berlin "
        "(got '${SW_T_QUOTED}')",
    ),
    (
        f"sources:\n  - {{name: x, kind: gopher, url: 'https://example.com', token: {BOT}}}\n",
        "sources[0]",
        "Input tag 'gopher' found using 'kind' does not match any of the expected tags: 'static', "
        "'helm', 'feed', 'astro_updates' "
        "(got a mapping with keys name, kind, url, token; values not shown: they hold a secret)",
    ),
    (
        "sources:\n  - {name: x, kind: gopher, url: 'https://example.com', token: '${SW_T_TOKEN}'}\n",
        "sources[0]",
        "Input tag 'gopher' found using 'kind' does not match any of the expected tags: 'static', "
        "'helm', 'feed', 'astro_updates' "
        "(got a mapping with keys name, kind, url, token; values not shown: they hold a secret)",
    ),
    (
        f"receivers:\n  - [name, r, {{slack: {{webhook_url: '{HOOK}'}}}}]\n",
        "receivers[0]",
        "must be a mapping of settings (key: value) "
        "(got a list of 3 items; values not shown: they hold a secret)",
    ),
    (
        f"receivers:\n  - name: r\n    slack:\n      - webhook_url: '{HOOK}'\n",
        "receivers[0].slack",
        "must be a mapping of settings (key: value) "
        "(got a list of 1 items; values not shown: they hold a secret)",
    ),
    (
        f"receivers: {{name: r, slack: {{webhook_url: '{HOOK}'}}}}\n",
        "receivers",
        "must be a list (one '- ' item each) (got a mapping with keys name, slack; values not shown: they hold a secret)",
    ),
    (
        "smtp: {host: h, sender: s@example.com, password_file: smtp-password, port: [1]}\n",
        "smtp.port",
        "Input should be a valid integer (got [1])",
    ),
    (
        f"smtp: {{host: h, sender: s@example.com, password: {{value: {MARK}}}}}\n",
        "smtp.password",
        "Input should be a valid string",
    ),
    (
        f"smtp: {{host: h, sender: s@example.com, password: [{MARK}]}}\n",
        "smtp.password",
        "Input should be a valid string",
    ),
    (
        f"database_url: 'mysql://sw:{MARK}@db.internal/sw'\n",
        "database_url",
        "the database dialect 'mysql' is not supported; use sqlite:///path/to/supportwatch.db or "
        "postgresql+psycopg://user:password@host:5432/database",
    ),
    (
        f"smtp: {{host: h, sender: s@example.com, password: !!int {MARK}}}\n",
        "line 1",
        "cannot read this int (not a valid int); write a valid value, or quote it to keep it as text",
    ),
    (
        f"sources: [{{name: s, kind: helm, url: 'ftp://sw:{MARK}@example.com/index.yaml'}}]\n",
        "sources[0].url",
        "'ftp://sw:***@example.com/index.yaml' is not an http(s) URL (got 'ftp://sw:***@example.com/index.yaml')",
    ),
    (
        f"http: {{user_agent: {{token: {MARK}}}}}\n",
        "http.user_agent",
        "Input should be a valid string (got a mapping with keys token; values not shown: they hold a secret)",
    ),
]


@pytest.mark.usefixtures("secret_env")
@pytest.mark.parametrize(("text", "path", "message"), SECRET_CASES)
def test_config_errors_never_show_a_secret(tmp_path: Path, text: str, path: str, message: str) -> None:
    config = write(tmp_path, text)
    err = error_of(config)
    assert (err.path, err.message) == (path, message)
    assert_hidden(str(err), *SECRET_ENV.values(), HOOK, BOT)
    stderr = cli_stderr(config)
    assert f"{path}: {message}" in stderr.replace("\n", "")
    assert_hidden(stderr, *SECRET_ENV.values(), HOOK, BOT)


@pytest.mark.usefixtures("secret_env")
def test_a_secret_reused_in_a_plain_key_is_hidden_there_too(tmp_path: Path) -> None:
    # the webhook URL's file content is a secret wherever it shows up again
    text = "receivers:\n  - name: r\n    slack: {webhook_url_file: hook}\ndefault_receiver: ${SW_T_TOKEN}\n"
    err = error_of(write(tmp_path, text))
    assert err.path == "default_receiver"
    assert err.message == "'${SW_T_TOKEN}' is not a receiver; known: console, r"
    token_file = write(tmp_path, "xoxb-" + MARK + "\n", "token")
    text = f"receivers:\n  - name: r\n    slack: {{token_file: {token_file.name}, channel: '#a'}}\n"
    text += f"default_receiver: xoxb-{MARK}\n"
    err = error_of(write(tmp_path, text))
    assert err.message == "'***' is not a receiver; known: console, r"


# --- 2. database_url: rendered without its password, refused at load if unusable --------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql+psycopg://sw:a/b{MARK}@db:5432/sw", "postgresql+psycopg://sw:***@db:5432/sw"),
        (f"postgresql+psycopg://sw:a%2Fb{MARK}@db/sw", "postgresql+psycopg://sw:***@db/sw"),
        (f"postgresql+psycopg://sw:a%40b{MARK}@db/sw", "postgresql+psycopg://sw:***@db/sw"),
        (f"postgresql+psycopg://sw:a@b{MARK}@db/sw", "postgresql+psycopg://sw:***@db/sw"),
        (f"postgresql+psycopg://sw:a:b{MARK}@db/sw", "postgresql+psycopg://sw:***@db/sw"),
        (
            f"postgresql+psycopg://sw@db/sw?password={MARK}&sslmode=require",
            "postgresql+psycopg://sw@db/sw?password=***&sslmode=require",
        ),
        (
            f"postgresql+psycopg://sw@db/sw?sslpassword={MARK}",
            "postgresql+psycopg://sw@db/sw?sslpassword=***",
        ),
        (f"postgresql+psycopg://sw:p{MARK}@db:abc/sw", "postgresql+psycopg"),
        (f"postgresql+psycopg://sw:p@ss:w/rd{MARK}@db:5432/sw", "postgresql+psycopg"),
        (f"sw:{MARK}@db/sw", "<unparseable database_url>"),
        (f"{MARK}", "<unparseable database_url>"),
        ("sqlite:///var/supportwatch.db", "sqlite:///var/supportwatch.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_render_database_url_never_shows_the_password(url: str, shown: str) -> None:
    assert render_database_url(url) == shown
    assert MARK not in render_database_url(url)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # the scheduler's job errors: as before for a plain password
        (
            "cannot reach postgresql://sw:hunter2@db.internal/sw",
            "cannot reach postgresql://sw:***@db.internal/sw",
        ),
        (f"at postgresql://sw:a/b{MARK}@db/sw: refused", "at postgresql://sw:***@db/sw: refused"),
        (f"at postgresql://sw:a@b:{MARK}@db/sw", "at postgresql://sw:***@db/sw"),
        (
            f"at postgresql://sw@db/sw?sslmode=require&password={MARK} x",
            "at postgresql://sw@db/sw?sslmode=require&password=*** x",
        ),
        (f"https://feed.example/x?token={MARK}", "https://feed.example/x?token=***"),
        ("https://helm.example:8443/index.yaml", "https://helm.example:8443/index.yaml"),
    ],
)
def test_redact_url_hides_every_password_shape(text: str, shown: str) -> None:
    assert redact_url(text) == shown


DATABASE_FORMS = (
    "use sqlite:///path/to/supportwatch.db or postgresql+psycopg://user:password@host:5432/database"
)
UNPARSEABLE = (
    "is not a database URL SQLAlchemy can read: the port must be a number, and '@', ':' and '/' in the "
    "user name or password must be percent-encoded (%40, %3A, %2F); expected sqlite:///path/to/supportwatch.db "
    "or postgresql+psycopg://user:password@host:5432/database"
)
PSYCOPG = "PostgreSQL needs the psycopg driver: postgresql+psycopg://user:password@host:5432/database"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"mysql://sw:{MARK}@db/sw", f"the database dialect 'mysql' is not supported; {DATABASE_FORMS}"),
        ("foo://", f"the database dialect 'foo' is not supported; {DATABASE_FORMS}"),
        (
            f"oracle+oracledb://sw:{MARK}@db/sw",
            f"the database dialect 'oracle' is not supported; {DATABASE_FORMS}",
        ),
        (f"postgresql+psycopg://sw:{MARK}@db:abc/sw", UNPARSEABLE),
        (f"postgresql+psycopg://sw:p@ss:w/rd{MARK}@db:5432/sw", UNPARSEABLE),
        (f"not a url {MARK}", UNPARSEABLE),
        (f"postgresql://sw:{MARK}@db/sw", f"a postgresql:// URL is not supported; {PSYCOPG}"),
        (f"postgres://sw:{MARK}@db/sw", f"a postgres:// URL is not supported; {PSYCOPG}"),
        (
            f"postgresql+psycopg2://sw:{MARK}@db/sw",
            f"a postgresql+psycopg2:// URL is not supported; {PSYCOPG}",
        ),
        (
            "sqlite+aiosqlite:///x.db",
            "the SQLite driver 'aiosqlite' is not supported; use sqlite:///path/to/supportwatch.db",
        ),
        (
            f"postgresql+psycopg://sw:p@{MARK}@db/sw",
            "the password holds an unencoded '@'; percent-encode it as %40 (and ':' as %3A, '/' as %2F)",
        ),
        (f"postgresql+psycopg://sw:{MARK}@db:99999/sw", "port 99999 is out of range; expected 1-65535"),
    ],
)
def test_unusable_database_url_is_refused_at_load(tmp_path: Path, url: str, message: str) -> None:
    config = write(tmp_path, f"database_url: '{url}'\n")
    err = error_of(config)
    assert (err.path, err.message) == ("database_url", message)
    assert_hidden(cli_stderr(config))


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/supportwatch.db",
        "sqlite+pysqlite:///var/supportwatch.db",
        "sqlite://",
        "postgresql+psycopg://sw:p%40ss%2Fw%3Ard@db.internal:5432/sw",
        "postgresql+psycopg://sw@/sw?host=/run/postgresql",
    ],
)
def test_supported_database_urls_load(tmp_path: Path, url: str) -> None:
    assert load_settings(write(tmp_path, f"database_url: '{url}'\n")).database_url == url


# --- 3. Slack URLs: https with a host (http only for private networks) --------------------------

HTTPS_EXPECTED = "expected an https:// URL with a host, e.g. {example} (the value is not shown)"
HTTP_REFUSED = (
    "uses http://, which sends the secret in clear text; use https:// (http is allowed only with "
    "http.allow_private_networks: true, for a local test server)"
)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://hooks.slack.com/services/{MARK}", HTTP_REFUSED),
        (f"HTTP://hooks.slack.com/services/{MARK}", HTTP_REFUSED),
        (f"ftp://hooks.slack.com/services/{MARK}", "has no https:// scheme; {expected}"),
        (f"hooks.slack.com/services/{MARK}", "has no https:// scheme; {expected}"),
        (f"javascript:{MARK}", "has no https:// scheme; {expected}"),
        (f"https:///services/{MARK}", "has no host; {expected}"),
        (f"https://:443/{MARK}", "has no host; {expected}"),
        (f"https://hooks.slack.com:port/{MARK}", "is not a URL; {expected}"),
        (f"https://[hooks.slack.com/{MARK}", "is not a URL; {expected}"),
        (f"https://hooks.slack.com/services/ {MARK}", "holds whitespace or control characters; {expected}"),
        (f"https://hooks.slack.com/services/\t{MARK}", "holds whitespace or control characters; {expected}"),
    ],
)
@pytest.mark.parametrize(
    ("key", "example"),
    [("webhook_url", "https://hooks.slack.com/services/..."), ("api_url", "https://slack.com/api/")],
)
def test_slack_urls_must_be_https_with_a_host(
    tmp_path: Path, url: str, message: str, key: str, example: str
) -> None:
    quoted = json.dumps(url)  # a YAML double-quoted string: \t is a tab
    slack = {
        "webhook_url": f"webhook_url: {quoted}",
        "api_url": f"token: t, channel: '#c', api_url: {quoted}",
    }
    config = write(tmp_path, f"receivers:\n  - name: r\n    slack: {{{slack[key]}}}\n")
    err = error_of(config)
    assert err.path == f"receivers[0].slack.{key}"
    assert err.message == message.format(expected=HTTPS_EXPECTED.format(example=example))
    assert_hidden(str(err))
    assert_hidden(cli_stderr(config))


def test_slack_webhook_from_a_file_is_checked_too(tmp_path: Path) -> None:
    write(tmp_path, f"http://hooks.slack.com/services/{MARK}\n", "hook")
    err = error_of(write(tmp_path, "receivers:\n  - name: r\n    slack: {webhook_url_file: hook}\n"))
    assert (err.path, err.message) == ("receivers[0].slack.webhook_url", HTTP_REFUSED)


def test_http_slack_urls_load_for_private_networks_and_https_always(tmp_path: Path) -> None:
    text = (
        "receivers:\n  - name: a\n    slack: {webhook_url: 'http://127.0.0.1:8080/hook'}\n"
        "  - name: b\n    slack: {token: t, channel: '#c', api_url: 'http://127.0.0.1:8080/api/'}\n"
    )
    assert len(load_settings(write(tmp_path, "http: {allow_private_networks: true}\n" + text)).receivers) == 2
    text = (
        f"receivers:\n  - name: a\n    slack: {{webhook_url: '{HOOK}'}}\n"
        "  - name: b\n    slack: {token: t, channel: '#c', api_url: 'https://slack.com/api/'}\n"
    )
    assert len(load_settings(write(tmp_path, text)).receivers) == 2


# --- 4. YAML anchors, aliases and merge keys --------------------------------------------------

BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def test_billion_laughs_is_refused_quickly_and_without_memory_growth(tmp_path: Path) -> None:
    assert len(BOMB) <= 512
    config = write(tmp_path, BOMB)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        err = error_of(config)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (err.path, err.message) == ("line 1", ALIASES)
    assert elapsed < 0.5
    assert peak < 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("policy: &p {maintenance_months: 6}\n", "line 1", ALIASES),
        ("wording: &w hello\npolicy: {wording: *w}\n", "line 1", ALIASES),
        ("x: &x {maintenance_months: 6}\npolicy:\n  <<: *x\n", "line 1", ALIASES),
        (
            "policy:\n  <<: {maintenance_months: 6}\n",
            "line 2",
            f"{ALIASES} (merge keys '<<' are refused too)",
        ),
        ("a: &a [*a]\n", "line 1", ALIASES),
    ],
)
def test_anchors_aliases_and_merge_keys_are_refused(
    tmp_path: Path, text: str, path: str, message: str
) -> None:
    config = write(tmp_path, text)
    err = error_of(config)
    assert (err.path, err.message) == (path, message)
    assert message in cli_stderr(config)


def test_aliases_in_a_deployments_file_are_refused_naming_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"- &d {{name: a, team: t, image: '{REPO}:3.1-9-python-3.12-astro-agent-1.3.1'}}\n- *d\n",
        "d.yaml",
    )
    err = error_of(write(tmp_path, "deployments_file: d.yaml\n"))
    assert (err.path, err.message) == ("d.yaml: line 1", ALIASES)


def test_ampersands_and_stars_in_text_still_load(tmp_path: Path) -> None:
    text = "policy: {id: 'a&b', wording: '*every* minor & patch'}\n"
    settings = load_settings(write(tmp_path, text))
    assert (settings.policy.id, settings.policy.wording) == ("a&b", "*every* minor & patch")


# --- 5. inputs that used to be tracebacks ---------------------------------------------------------

KEY_PLAIN = "a mapping key must be a plain value (a name or a number), not a list or mapping"
TOO_DEEP = (
    f"nested deeper than {MAX_NESTING} levels; the config needs only a few levels of mappings and lists"
)


def nested_yaml_block(depth: int) -> str:
    return "".join("  " * level + f"k{level}:\n" for level in range(depth)) + "  " * depth + "1\n"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("? [a, b]\n: 1\n", "line 1", KEY_PLAIN),
        ("? {a: 1}\n: 1\n", "line 1", KEY_PLAIN),
        ("policy:\n  ? [x]\n  : 1\n", "line 2", KEY_PLAIN),
        ("{[a, b]: 1}\n", "line 1", KEY_PLAIN),
        (nested_yaml_block(300), "line 65", TOO_DEEP),
        ("a: " + "{b: " * 300 + "1" + "}" * 300 + "\n", "line 1", TOO_DEEP),
        ("a: " + "[" * 300 + "]" * 300 + "\n", "line 1", TOO_DEEP),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "", None),  # libyaml's own limit: not valid YAML
        ('{"a": ' + "[" * 300 + "]" * 300 + "}", "", TOO_DEEP),
        ('{"a": ' + "[" * 100000 + "]" * 100000 + "}", "", TOO_DEEP),
        ("[" * 100 + "]" * 100, "", TOO_DEEP),
        ("timezone: " + "A" * 300 + "\n", "timezone", None),
        (
            "sources:\n  - name: s\n    kind: static\n    releases:\n"
            "      - {component: agent, version: 1.2.3, released_on: 0000-01-01}\n",
            "line 5",
            "cannot read this date (year 0 is out of range); write a date YYYY-MM-DD with a year from 1 to "
            "9999, or quote it to keep it as text",
        ),
        ("web: {port: " + "9" * 5000 + "}\n", "line 1", None),
        ('{"web": {"port": ' + "9" * 5000 + "}}", "", None),
    ],
)
def test_malformed_input_is_a_config_error_not_a_traceback(
    tmp_path: Path, text: str, path: str, message: str | None
) -> None:
    config = write(tmp_path, text)
    err = error_of(config)
    assert err.path == path
    if message is not None:
        assert err.message == message
    cli_stderr(config)


def test_a_config_nested_to_the_limit_still_reaches_validation(tmp_path: Path) -> None:
    # 63 levels under the top mapping load as YAML (and are then an unknown key, not a traceback)
    err = error_of(write(tmp_path, nested_yaml_block(MAX_NESTING - 1)))
    assert (err.path, err.message) == (
        "k0",
        "unknown key; check its spelling against the documented config keys",
    )


def test_a_deeply_nested_json_deployments_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "[" * 200 + "]" * 200, "deps.json")
    err = error_of(write(tmp_path, "deployments_file: deps.json\n"))
    assert (err.path, err.message) == ("deps.json", TOO_DEEP)


@pytest.mark.parametrize("length", [256, 300, 100000])
def test_overlong_timezone_is_refused(tmp_path: Path, length: int) -> None:
    err = error_of(write(tmp_path, f"timezone: {'A' * length}\n"))
    assert err.path == "timezone"
    assert err.message.startswith(
        f"is {length} characters long; an IANA time zone name has at most 255, e.g. UTC or Europe/Berlin (got 'AAA"
    )
    assert len(err.message) < 250


@pytest.mark.parametrize("data", [b"\xff\xfe secret", b"caf\xe9", b"\x80"])
def test_non_utf8_secret_file_is_refused(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "pw").write_bytes(data)
    config = write(tmp_path, "smtp: {host: h, sender: s@example.com, password_file: pw}\n")
    err = error_of(config)
    assert (err.path, err.message) == (
        "smtp.password_file",
        "secret file 'pw' is not UTF-8 text; write the secret as UTF-8 text",
    )
    cli_stderr(config)


def test_non_utf8_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_bytes(b"timezone: caf\xe9\n")
    err = error_of(config)
    assert (
        err.message == f"config file {str(config)!r} is not UTF-8 text (invalid continuation byte at byte 13)"
    )


# --- 6. only regular files, and not too large ----------------------------------------------------


NOT_REGULAR = "is not a regular file (a device, FIFO or directory); name a plain file"


def test_config_file_must_be_a_regular_file(tmp_path: Path, fifo: Path) -> None:
    for path in (Path("/dev/zero"), fifo, tmp_path):
        started = time.perf_counter()
        err = error_of(path)
        assert time.perf_counter() - started < 1
        assert (err.path, err.message) == ("", f"config file {str(path)!r} {NOT_REGULAR}")


def test_deployments_file_must_be_a_regular_file(tmp_path: Path, fifo: Path) -> None:
    for name in ("/dev/zero", fifo.name):
        err = error_of(write(tmp_path, f"deployments_file: {name}\n"))
        assert err.path == name
        assert err.message == f"config file {str(tmp_path / name)!r} {NOT_REGULAR}"


def test_secret_file_must_be_a_regular_file(tmp_path: Path, fifo: Path) -> None:
    for name in ("/dev/zero", fifo.name, "."):
        err = error_of(
            write(tmp_path, f"smtp: {{host: h, sender: s@example.com, password_file: '{name}'}}\n")
        )
        assert (err.path, err.message) == ("smtp.password_file", f"secret file {name!r} {NOT_REGULAR}")


def test_oversized_files_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(b"x" * (64 * 1024 + 1))
    err = error_of(write(tmp_path, "smtp: {host: h, sender: s@example.com, password_file: pw}\n"))
    assert (err.path, err.message) == (
        "smtp.password_file",
        f"secret file 'pw' is {64 * 1024 + 1} bytes; the limit is 64 KiB",
    )
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024 + 1)  # sparse: nothing is written
    err = error_of(big)
    assert err.message == f"config file {str(big)!r} is {64 * 1024 * 1024 + 1} bytes; the limit is 64 MiB"


# --- 7. numeric settings are bounded and finite --------------------------------------------------

SECTIONS: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "http": (HttpSettings, {}),
    "source_health": (SourceHealthSettings, {}),
    "policy": (PolicySettings, {}),
    "notify": (NotifySettings, {}),
    "schedule": (ScheduleSettings, {}),
    "web": (WebSettings, {}),
    "smtp": (SmtpSettings, {"host": "h", "sender": "s@example.com"}),
}


def numeric_settings(bounded_only: bool) -> list[tuple[str, str]]:
    """Every int/float setting of every section (http's upper bounds are another change's)."""
    found = []
    for section, (model, _) in SECTIONS.items():
        if bounded_only and section == "http":
            continue
        for name, info in model.model_fields.items():
            if str(info.annotation) in ("<class 'int'>", "<class 'float'>", "int | None", "float | None"):
                found.append((section, name))
    return found


def section_config(section: str, name: str, value: str) -> str:
    return f"{section}: {{{', '.join([*(f'{k}: {v}' for k, v in SECTIONS[section][1].items()), f'{name}: {value}'])}}}\n"


@pytest.mark.parametrize(("section", "name"), numeric_settings(bounded_only=True))
def test_every_numeric_setting_has_an_upper_bound(tmp_path: Path, section: str, name: str) -> None:
    err = error_of(write(tmp_path, section_config(section, name, "100000000000000")))
    assert err.path == f"{section}.{name}"
    assert err.message.startswith("Input should be less than or equal to ")


@pytest.mark.parametrize(("section", "name"), numeric_settings(bounded_only=False))
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_no_numeric_setting_takes_inf_or_nan(tmp_path: Path, section: str, name: str, value: str) -> None:
    err = error_of(write(tmp_path, section_config(section, name, value)))
    assert err.path == f"{section}.{name}"
    assert err.message.startswith("Input should be a finite number")


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (
            "sources: [{name: s, kind: helm, url: 'https://x.example', interval_minutes: 1.0e+14}]\n",
            "sources[0].interval_minutes",
            "Input should be less than or equal to 43200 (got 100000000000000.0)",
        ),
        (
            "sources: [{name: s, kind: feed, url: 'https://x.example', max_bytes: 1.0e+14}]\n",
            "sources[0].max_bytes",
            "Input should be less than or equal to 1073741824 (got 100000000000000.0)",
        ),
        (
            "sources: [{name: s, kind: static, interval_minutes: .inf}]\n",
            "sources[0].interval_minutes",
            "Input should be a finite number (got inf)",
        ),
        (
            "notify: {lease_seconds: 100000000000000}\n",
            "notify.lease_seconds",
            "Input should be less than or equal to 86400 (got 100000000000000)",
        ),
        (
            "notify: {timeout_seconds: .inf}\n",
            "notify.timeout_seconds",
            "Input should be a finite number (got inf)",
        ),
        (
            "policy: {reminder_days: [60, 100000000000000]}\n",
            "policy.reminder_days",
            "[60, 100000000000000] has a rung over 3660; reminder days are at most 3660 (10 years) "
            "(got [60, 100000000000000])",
        ),
    ],
)
def test_numeric_bounds_name_the_key_and_the_bound(
    tmp_path: Path, text: str, path: str, message: str
) -> None:
    config = write(tmp_path, text)
    err = error_of(config)
    assert (err.path, err.message) == (path, message)
    cli_stderr(config)


def test_the_defaults_and_the_bundled_config_are_within_the_bounds() -> None:
    root = Path(__file__).resolve().parents[1]
    assert load_settings(root / "config" / "supportwatch.yaml").notify.lease_seconds == 600


def test_a_secret_written_where_a_mapping_belongs_is_not_echoed(tmp_path: Path) -> None:
    secret = "https://hooks.slack.com/services/T000/B000/SEKRETWRONGLEVEL"
    for text in (
        f"receivers:\n  - name: r\n    slack: '{secret}'\n",
        f"receivers:\n  - name: r\n    email: '{secret}'\n",
        f"receivers: '{secret}'\n",
        f"receivers: ['{secret}']\n",
        f"smtp: '{secret}'\n",
    ):
        path = tmp_path / "c.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_settings(path)
        assert "SEKRET" not in str(caught.value), text
        assert "got a string" in str(caught.value) or "got a list" in str(caught.value), str(caught.value)
