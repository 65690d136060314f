"""``Service.poll`` end to end: real HTTP server on 127.0.0.1, real database, real parsers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from sources.httpserver import Server, Sleeps, fixture_bytes, loopback_settings, sequence, static, status
from supportwatch.cli import app
from supportwatch.config import Settings
from supportwatch.engine import create_engine_for
from supportwatch.errors import ConfigError
from supportwatch.migrations import upgrade
from supportwatch.service import Service
from supportwatch.sources.http import Fetcher
from supportwatch.sources.http_source import HttpSource
from supportwatch.sources.result import Parsed
from supportwatch.store import Store
from supportwatch.values import FindingKind

T0 = datetime(2026, 7, 23, 8, tzinfo=UTC)
CHART = "astro-remote-execution-agent"
SECRET = "tok-do-not-print-42"


def _settings(server: Server, database_url: str = "sqlite://") -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "http": {"allow_private_networks": True, "retries": 2, "deadline_seconds": 10},
            "sources": [
                {"name": "chart-index", "kind": "helm", "url": server.url("/index.yaml"), "chart": CHART},
                {"name": "agent-versions", "kind": "astro_updates", "url": server.url("/astro-agent")},
                {"name": "agent-notes", "kind": "feed", "url": server.url("/notes.rss"), "token": SECRET},
            ],
        }
    )


@dataclass
class Rig:
    service: Service
    server: Server
    parses: dict[str, int]

    def poll(self, now: datetime = T0, only: str | None = None) -> dict[str, Any]:
        return {item.source: item for item in self.service.poll(now, only=only)}

    def catalog(self) -> dict[tuple[str, str], Any]:
        return {(item.component, item.version): item for item in self.service.releases()}


def _rig(server: Server, engine: Engine, client: httpx.Client, sleeps: Sleeps) -> Rig:
    settings = _settings(server)
    service = Service(settings, engine, Store(engine, source_priority=settings.source_priority()))
    service.fetcher = Fetcher(client, loopback_settings(retries=2), sleep=sleeps)
    parses: dict[str, int] = {}
    for name, source in service.sources().items():
        assert isinstance(source, HttpSource)
        source.parse = _counting(source.parse, name, parses)
    return Rig(service, server, parses)


def _counting(parse: Any, name: str, counts: dict[str, int]) -> Any:
    def wrapped(body: bytes) -> Parsed:
        counts[name] = counts.get(name, 0) + 1
        result: Parsed = parse(body)
        return result

    return wrapped


@pytest.fixture
def rig(server: Server, engine: Engine, client: httpx.Client, sleeps: Sleeps) -> Rig:
    server.routes["/index.yaml"] = static(fixture_bytes("index.yaml"), etag='"idx-1"')
    server.routes["/astro-agent"] = static(
        fixture_bytes("astro-agent.json"), last_modified="Thu, 23 Jul 2026 07:00:00 GMT"
    )
    server.routes["/notes.rss"] = static(fixture_bytes("agent-notes.rss.xml"), etag='"n1"')
    return _rig(server, engine, client, sleeps)


def test_first_poll_records_second_is_304_without_parsing_changed_reparses(rig: Rig) -> None:
    first = rig.poll()
    assert {name: item.status for name, item in first.items()} == dict.fromkeys(first, "fetched")
    assert first["chart-index"].new == 5
    catalog = rig.catalog()
    assert catalog[("chart", "2.3.3")].app_version == "1.8.2"
    assert catalog[("agent", "1.8.2")].image_tags  # from the version feed
    assert catalog[("agent", "1.8.1")].yanked
    assert rig.parses == {"chart-index": 1, "agent-versions": 1, "agent-notes": 1}

    second = rig.poll(T0 + timedelta(hours=1))
    assert {item.status for item in second.values()} == {"unchanged"}
    assert all(item.requests == 1 for item in second.values())
    assert rig.parses == {"chart-index": 1, "agent-versions": 1, "agent-notes": 1}  # nothing parsed

    changed = fixture_bytes("index.yaml").replace(b"version: 2.3.3", b"version: 2.4.0")
    rig.server.routes["/index.yaml"] = static(changed, etag='"idx-2"')
    third = rig.poll(T0 + timedelta(hours=2), only="chart-index")
    assert list(third) == ["chart-index"]
    assert third["chart-index"].status == "fetched"
    assert third["chart-index"].new == 1
    assert rig.parses["chart-index"] == 2
    assert ("chart", "2.3.3") in rig.catalog()  # no longer listed, never deleted
    state = rig.service.store.source_state("chart-index")
    assert state is not None
    assert state.etag == '"idx-2"'
    assert state.last_success_at == T0 + timedelta(hours=2)


def test_provenance_and_priority(rig: Rig) -> None:
    rig.poll()
    observations = {obs.source: obs for obs in rig.service.store.observations("agent", "1.8.2")}
    assert set(observations) == {"agent-versions", "agent-notes"}
    assert observations["agent-notes"].url == rig.server.url("/notes.rss")
    assert observations["agent-notes"].seen_at == T0


BAD_ANSWERS = {
    "truncated": status(200, body=fixture_bytes("index.yaml")[:1500] + b'\n    created: "20'),
    "aliases": status(200, body=b"apiVersion: v1\nentries:\n  x: &a [1]\n  y: *a\n"),
    "python-tag": status(
        200, body=b"apiVersion: v1\nentries: !!python/object/apply:os.system ['true']\ngenerated: x\n"
    ),
    "html": status(200, body=b"<!doctype html><html><body>maintenance</body></html>"),
    "shrunk": status(
        200, body=fixture_bytes("index.yaml").split(b"  - annotations:")[0] + b"  sentinel: []\n"
    ),
    "server-error": status(500),
    "gone": status(410),
    "oversized": status(200, body=b"#" * 70000),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_a_bad_answer_fails_and_keeps_the_last_good_data(
    case: str, server: Server, sqlite_url: str, client: httpx.Client, sleeps: Sleeps
) -> None:
    engine = create_engine_for(sqlite_url)
    upgrade(engine)
    try:
        server.routes["/index.yaml"] = static(fixture_bytes("index.yaml"), etag='"idx-1"')
        rig = _rig(server, engine, client, sleeps)
        source = rig.service.sources()["chart-index"]
        assert isinstance(source, HttpSource)
        source.max_bytes = 65536
        assert rig.poll(only="chart-index")["chart-index"].status == "fetched"
        before = rig.catalog()

        server.routes["/index.yaml"] = BAD_ANSWERS[case]
        outcome = rig.poll(T0 + timedelta(hours=1), only="chart-index")["chart-index"]
        assert outcome.status == "failed", outcome
        assert outcome.error
        assert rig.catalog() == before
        state = rig.service.store.source_state("chart-index")
        assert state is not None
        assert state.consecutive_failures == 1
        assert state.etag == '"idx-1"'  # validators of the last good answer
        assert state.release_count == 5
        assert state.disabled == (case == "gone")
    finally:
        engine.dispose()


def test_a_real_shrink_is_accepted_only_when_the_operator_says_so(rig: Rig) -> None:
    assert rig.poll(only="chart-index")["chart-index"].status == "fetched"
    index = yaml.safe_load(fixture_bytes("index.yaml"))
    index["entries"]["astro-remote-execution-agent"] = index["entries"]["astro-remote-execution-agent"][:2]
    rig.server.routes["/index.yaml"] = static(json.dumps(index).encode(), etag='"idx-small"')
    refused = rig.poll(T0 + timedelta(hours=1), only="chart-index")["chart-index"]
    assert refused.status == "failed"
    assert "--accept-shrink" in (refused.error or "")
    accepted = rig.service.poll(T0 + timedelta(hours=2), only="chart-index", accept_shrink=True)
    assert [item.status for item in accepted] == ["fetched"]
    state = rig.service.store.source_state("chart-index")
    assert state is not None
    assert state.release_count == 2  # the new baseline
    assert ("chart", "2.3.3") in rig.catalog()  # what it dropped is still known
    again = rig.poll(T0 + timedelta(hours=3), only="chart-index")["chart-index"]
    assert again.status in {"fetched", "unchanged"}


def test_410_disables_the_source_with_a_finding(rig: Rig) -> None:
    rig.server.routes["/astro-agent"] = status(410)
    assert rig.poll()["agent-versions"].status == "failed"
    assert rig.poll(T0 + timedelta(hours=1))["agent-versions"].status == "disabled"
    assert rig.server.hits("/astro-agent") == 1
    [finding] = rig.service.health_findings(T0 + timedelta(hours=1))
    assert finding.kind is FindingKind.SOURCE_STALE
    assert "410" in finding.summary
    assert finding.deployment == ""


def test_301_moves_the_stored_url(rig: Rig) -> None:
    body = fixture_bytes("astro-agent.json")
    rig.server.routes["/astro-agent"] = status(301, {"Location": "/v2/astro-agent"})
    rig.server.routes["/v2/astro-agent"] = static(body, etag='"a1"')
    rig.poll()
    state = rig.service.store.source_state("agent-versions")
    assert state is not None
    assert state.url == rig.server.url("/v2/astro-agent")
    assert rig.poll(T0 + timedelta(hours=1))["agent-versions"].status == "unchanged"
    assert rig.server.hits("/astro-agent") == 1


def test_retry_then_success_and_retry_after(rig: Rig, sleeps: Sleeps) -> None:
    body = fixture_bytes("astro-agent.json")
    rig.server.routes["/astro-agent"] = sequence(status(500), status(429, {"Retry-After": "2"}), static(body))
    outcome = rig.poll(only="agent-versions")["agent-versions"]
    assert outcome.status == "fetched"
    assert outcome.requests == 3
    assert sleeps.calls[-1] == 2.0


def test_date_titled_feed_records_nothing_and_reports_it(rig: Rig) -> None:
    rig.server.routes["/notes.rss"] = static(fixture_bytes("date-titles.rss.xml"))
    outcome = rig.poll()["agent-notes"]
    assert outcome.status == "failed"
    assert "answered no releases (3 entries had no readable version)" in (outcome.error or "")
    assert not [obs for obs in rig.service.store.all_observations() if obs.source == "agent-notes"]


def test_stale_after_three_failures_and_date_conflicts(rig: Rig) -> None:
    rig.poll()
    rig.server.routes["/astro-agent"] = status(503)
    for hour in (1, 2, 3):
        rig.poll(T0 + timedelta(hours=hour), only="agent-versions")
    findings = rig.service.health_findings(T0 + timedelta(hours=3))
    kinds = sorted((f.kind.value, f.subject) for f in findings)
    assert ("source_stale", "agent-versions") in kinds
    # the feed's 1.7.2 has no written date (pubDate 2026-06-15); the version feed says 2026-07-01
    assert ("date_conflict", "agent 1.7.2") in kinds
    conflict = next(f for f in findings if f.kind is FindingKind.DATE_CONFLICT)
    assert "using 2026-07-01 from agent-versions" in conflict.summary


def test_secrets_never_reach_outcomes_state_or_findings(rig: Rig) -> None:
    rig.server.routes["/notes.rss"] = status(401, body=b"bad token")
    outcome = rig.poll()["agent-notes"]
    assert rig.server.log[-1][1]["Authorization"] == f"Bearer {SECRET}"
    state = rig.service.store.source_state("agent-notes")
    texts = [repr(outcome), repr(state), *(repr(f) for f in rig.service.health_findings(T0))]
    assert all(SECRET not in text for text in texts)


def test_unknown_source_name(rig: Rig) -> None:
    with pytest.raises(ConfigError, match="'nope' is not a polled source"):
        rig.service.poll(T0, only="nope")


def test_cli_poll_and_check_json(server: Server, tmp_path: Path) -> None:
    server.routes["/index.yaml"] = static(fixture_bytes("index.yaml"), etag='"idx-1"')
    server.routes["/astro-agent"] = static(fixture_bytes("astro-agent.json"), etag='"a"')
    server.routes["/notes.rss"] = status(500)
    config = tmp_path / "supportwatch.yaml"
    settings = _settings(server, f"sqlite:///{tmp_path / 'sw.db'}")
    document = json.loads(settings.model_dump_json(include={"database_url", "http", "sources"}))
    document["http"] = {"allow_private_networks": True, "retries": 0}
    for source in document["sources"]:
        source.pop("token", None)
        source["token"] = SECRET if source["name"] == "agent-notes" else None
        if source["token"] is None:
            source.pop("token")
    config.write_text(json.dumps(document))
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "poll"])
    assert result.exit_code == 1, result.output
    assert "chart-index" in result.output and "5 new" in result.output
    assert "agent-notes" in result.output and "failed" in result.output
    assert SECRET not in result.output
    again = runner.invoke(app, ["--config", str(config), "poll", "--source", "chart-index"])
    assert again.exit_code == 0, again.output
    assert "304" in again.output
    unknown = runner.invoke(app, ["--config", str(config), "poll", "--source", "nope"])
    assert unknown.exit_code == 2
    check = runner.invoke(app, ["--config", str(config), "check", "--format", "json", "--fail-on", "never"])
    assert check.exit_code == 0, check.output
    # the feed that has never answered is a data-health problem from its first failed poll
    [stale] = json.loads(check.stdout)["data_health"]
    assert (stale["kind"], stale["subject"]) == ("source_stale", "agent-notes")
    assert "has never answered successfully" in stale["summary"]
    assert SECRET not in check.output
