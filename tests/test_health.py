"""Data-health findings are pure: states and observations in, findings out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from supportwatch.config import SourceHealthSettings
from supportwatch.health import StaleAfter, date_conflict_findings, stale_findings
from supportwatch.store import Store
from supportwatch.values import FindingKind, Observation, Severity, SourceState

NOW = datetime(2026, 7, 23, 12, tzinfo=UTC)
HEALTH = SourceHealthSettings()


def _state(**values: object) -> SourceState:
    return SourceState(name="agent-versions", **values)  # type: ignore[arg-type]


def test_healthy_source_has_no_finding() -> None:
    assert stale_findings([_state(last_success_at=NOW - timedelta(hours=1))], HEALTH, now=NOW) == []


def test_three_failures_make_a_source_stale() -> None:
    state = _state(consecutive_failures=3, last_success_at=NOW - timedelta(hours=2), last_error="HTTP 503")
    [finding] = stale_findings([state], HEALTH, now=NOW)
    assert finding.kind is FindingKind.SOURCE_STALE
    assert finding.severity is Severity.WARNING
    assert finding.dedup_key == "source_stale:agent-versions"
    assert (finding.deployment, finding.team) == ("", "")
    assert "failed 3 polls in a row" in finding.summary and "HTTP 503" in finding.summary
    assert stale_findings([_state(consecutive_failures=2, last_success_at=NOW)], HEALTH, now=NOW) == []


def test_no_success_for_too_long_is_stale() -> None:
    state = _state(last_success_at=NOW - timedelta(hours=25))
    [finding] = stale_findings([state], HEALTH, now=NOW)
    assert "over 24 hours" in finding.summary
    custom = SourceHealthSettings(stale_hours=48)
    assert stale_findings([state], custom, now=NOW) == []


def test_a_source_that_never_answered_is_stale_after_its_first_failed_poll() -> None:
    # a first run offline: no good data at all, so no grace of three failures
    state = _state(consecutive_failures=1, last_attempt_at=NOW, last_error="connection refused")
    [finding] = stale_findings([state], HEALTH, now=NOW)
    assert finding.dedup_key == "source_stale:agent-versions"
    assert "has never answered successfully (poll failed)" in finding.summary
    assert "connection refused" in finding.summary
    [again] = stale_findings([_state(consecutive_failures=2)], HEALTH, now=NOW)
    assert "(2 polls failed)" in again.summary
    # not yet polled: nothing known either way, no finding
    assert stale_findings([_state()], HEALTH, now=NOW) == []


def test_the_rules_take_plain_values() -> None:
    state = _state(consecutive_failures=2, last_success_at=NOW)
    assert stale_findings([state], StaleAfter(stale_failures=3), now=NOW) == []
    assert len(stale_findings([state], StaleAfter(stale_failures=2), now=NOW)) == 1


def _obs(source: str, day: date | None, version: str = "1.6.0") -> Observation:
    return Observation("agent", version, source, None, day, NOW, NOW)


def test_date_conflict_beyond_a_day() -> None:
    observations = [
        _obs("notes", date(2026, 4, 16)),
        _obs("versions", date(2026, 4, 18)),
        _obs("pinned", None),
    ]
    [finding] = date_conflict_findings(observations, priority=["versions", "notes"], max_days=1)
    assert finding.kind is FindingKind.DATE_CONFLICT
    assert finding.subject == "agent 1.6.0"
    assert "using 2026-04-18 from versions" in finding.summary
    same = date_conflict_findings(list(reversed(observations)), priority=["versions", "notes"], max_days=1)
    assert same[0].dedup_key == finding.dedup_key


def test_one_day_apart_is_no_conflict_and_unconfigured_sources_are_ignored() -> None:
    near = [_obs("notes", date(2026, 4, 16)), _obs("versions", date(2026, 4, 17))]
    assert date_conflict_findings(near, priority=["notes", "versions"], max_days=1) == []
    gone = [_obs("notes", date(2026, 4, 16)), _obs("removed", date(2026, 5, 1))]
    assert date_conflict_findings(gone, priority=["notes"], max_days=1) == []


def test_source_state_round_trip(engine: Engine) -> None:
    store = Store(engine)
    assert store.source_state("chart-index") is None
    state = SourceState(
        name="chart-index",
        configured_url="https://charts.example.test/index.yaml",
        url="https://charts.example.test/v2/index.yaml",
        etag='"abc"',
        last_modified="Wed, 22 Jul 2026 10:00:00 GMT",
        last_attempt_at=NOW,
        last_success_at=NOW,
        release_count=300,
    )
    store.save_source_state(state)
    assert store.source_state("chart-index") == state
    failed = SourceState(name="chart-index", consecutive_failures=4, last_error="HTTP 500", disabled=True)
    store.save_source_state(failed)
    assert store.source_states() == [failed]
    loaded = store.source_state("chart-index")
    assert loaded is not None and loaded.last_attempt_at is None
