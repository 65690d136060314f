"""The bundled config: its source settings against feeds in the vendor's shapes, its facts, its example."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from supportwatch.config import FeedSource, load_settings
from supportwatch.sources.feed import parse_feed
from supportwatch.versions import RuntimeVersion

ROOT = Path(__file__).resolve().parents[1]
FEED = Path(__file__).parent / "fixtures" / "sources" / "agent-notes-with-charts.rss.xml"


def test_agent_notes_pattern_skips_the_chart_entries_of_the_older_feed() -> None:
    settings = load_settings(ROOT / "config" / "supportwatch.yaml")
    [notes] = [s for s in settings.sources if isinstance(s, FeedSource) and s.component == "agent"]
    parsed = parse_feed(FEED.read_bytes(), component="agent", version_pattern=notes.version_pattern)
    assert {(r.version, r.released_on) for r in parsed.releases} == {
        ("1.5.1", date(2026, 4, 14)),  # the written date, not the evening-before pubDate
        ("1.5.0", date(2026, 4, 2)),
    }
    assert parsed.skipped == 3  # two chart entries and a date-titled summary


def test_the_default_pattern_would_take_chart_versions_for_agents() -> None:
    parsed = parse_feed(FEED.read_bytes(), component="agent")
    assert "2.0.0" in {r.version for r in parsed.releases}  # why the bundled config sets a pattern


def test_known_incompatibility_holds_whatever_the_agent_version() -> None:
    settings = load_settings(ROOT / "config" / "supportwatch.yaml")
    [rule] = settings.known_incompatibilities
    # parsed once, at load; written back as the text it was
    assert (rule.execution_runtime, rule.orchestration_runtime) == (
        RuntimeVersion.parse("3.0-1"),
        RuntimeVersion.parse("3.0-2"),
    )
    assert rule.model_dump()["execution_runtime"] == "3.0-1"
    assert rule.model_dump()["orchestration_runtime"] == "3.0-2"
    assert rule.agent is None
    assert rule.note == "agent images on Runtime 3.0-1 fail against an orchestration plane on Runtime 3.0-2"
    [pure] = settings.rules().incompatibilities
    assert pure.agent is None
    assert pure.execution_runtime == RuntimeVersion.parse("3.0-1")
    assert pure.orchestration_runtime == RuntimeVersion.parse("3.0-2")


def test_example_deployments_show_namespace_and_release() -> None:
    deployments = load_settings(ROOT / "config" / "supportwatch.yaml").deployment_values()
    assert [d.name for d in deployments] == ["prod-east", "prod-west", "analytics-batch", "analytics-sandbox"]
    assert [(d.namespace, d.helm_release) for d in deployments] == [
        ("astro-agent", "astro-agent"),
        (None, None),
        (None, None),
        (None, None),
    ]
