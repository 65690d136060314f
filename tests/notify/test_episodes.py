"""Finding episodes: the decision on plain values, then the table on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event

from at_once import row_count, run_together
from supportwatch.notify.episodes import WRITE_BATCH, Change, Episodes, FindingState, Seen, decide, step
from supportwatch.notify.log import DeliveryKey
from supportwatch.tables import finding_state_table

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
KEY = "end_of_maintenance:prod-east:agent-1.3"
SEEN = Seen(KEY, "end_of_maintenance", "critical", "prod-east", "team", {"summary": "s"})


def state(*, resolved_at: datetime | None = None, episode: int = 0, superseded: bool = False) -> FindingState:
    return FindingState(
        dedup_key=KEY,
        kind="end_of_maintenance",
        deployment="prod-east",
        team="team",
        payload={"summary": "before"},
        first_seen_at=T0 - timedelta(days=10),
        resolved_at=resolved_at,
        superseded=superseded,
        episode=episode,
        severity="warning",
        last_seen_at=T0 - timedelta(days=1),
    )


def never(_: FindingState) -> bool:
    return False


def always(_: FindingState) -> bool:
    return True


# --- the decision, on plain values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "reported", "replaced", "change"),
    [
        (None, True, False, Change.NEW),
        (state(), True, False, Change.CONTINUING),
        (state(resolved_at=T0), True, False, Change.CAME_BACK),
        (state(resolved_at=T0, superseded=True), True, False, Change.CAME_BACK),
        (state(), False, False, Change.RESOLVED),
        (state(), False, True, Change.SUPERSEDED),
        (state(resolved_at=T0), False, False, None),  # ended before: nothing to do
        (None, False, False, None),
    ],
)
def test_decide(previous: FindingState | None, reported: bool, replaced: bool, change: Change | None) -> None:
    assert decide(previous, reported=reported, replaced=replaced) is change


def test_a_new_finding_starts_its_first_episode_now() -> None:
    result = step(None, SEEN, now=T1, superseded=never)
    assert result is not None
    change, after = result
    assert change is Change.NEW
    assert (after.first_seen_at, after.last_seen_at, after.resolved_at, after.episode) == (T1, T1, None, 0)
    assert (after.severity, after.payload) == ("critical", {"summary": "s"})
    assert after.delivery_key == DeliveryKey.finding(KEY)


def test_a_continuing_finding_keeps_its_start_and_takes_the_new_facts() -> None:
    result = step(state(), SEEN, now=T1, superseded=never)
    assert result is not None
    change, after = result
    assert change is Change.CONTINUING
    assert after == replace(state(), last_seen_at=T1, payload={"summary": "s"}, severity="critical")


def test_a_finding_that_comes_back_starts_a_new_episode() -> None:
    result = step(state(resolved_at=T0, superseded=True, episode=1), SEEN, now=T1, superseded=always)
    assert result is not None
    change, after = result
    assert change is Change.CAME_BACK
    assert (after.first_seen_at, after.resolved_at, after.superseded, after.episode) == (T1, None, False, 2)
    assert str(after.delivery_key) == f"{KEY}:episode-2"


def test_an_ended_finding_is_resolved_unless_replaced() -> None:
    asked: list[FindingState] = []

    def replaced(ended: FindingState) -> bool:
        asked.append(ended)
        return ended.deployment == "prod-east"

    result = step(state(), None, now=T1, superseded=replaced)
    assert result == (Change.SUPERSEDED, replace(state(), resolved_at=T1, superseded=True))
    assert [item.resolved_at for item in asked] == [T1]  # asked about the finding as ended
    result = step(state(), None, now=T1, superseded=never)
    assert result == (Change.RESOLVED, replace(state(), resolved_at=T1, superseded=False))


def test_nothing_changes_for_a_finding_still_gone() -> None:
    asked: list[FindingState] = []

    def replaced(ended: FindingState) -> bool:
        asked.append(ended)
        return True

    assert step(state(resolved_at=T0), None, now=T1, superseded=replaced) is None
    assert asked == []


# --- the table -----------------------------------------------------------------------------------


def test_sync_records_each_change(engine: Engine) -> None:
    episodes = Episodes(engine)
    rung = Seen("maintenance_ending:prod-east:agent-1.3:rung-30", "maintenance_ending", "warning",
                "prod-east", "team", {"summary": "r"})  # fmt: skip
    first = episodes.sync_findings([SEEN, rung], now=T0, superseded=never)
    assert {key: s.episode for key, s in first.items()} == {KEY: 0, rung.dedup_key: 0}
    ended = episodes.sync_findings([SEEN], now=T1, superseded=always)  # the rung was replaced
    assert set(ended) == {KEY}
    assert episodes.finding_states(resolved_since=T0) == []  # superseded: not a resolution
    episodes.sync_findings([], now=T1 + timedelta(days=1), superseded=never)
    [resolved] = episodes.finding_states(resolved_since=T1)
    assert (resolved.dedup_key, resolved.superseded) == (KEY, False)
    back = episodes.sync_findings([SEEN], now=T1 + timedelta(days=2), superseded=never)
    assert (back[KEY].episode, back[KEY].resolved_at) == (1, None)
    assert [s.dedup_key for s in episodes.finding_states(opened_since=T1)] == [KEY]


def test_a_reported_finding_takes_the_runs_facts_and_an_ended_one_keeps_its_own(engine: Engine) -> None:
    """Stored payloads are compared as JSON text, not decoded: a changed one is written, and an
    ended finding keeps the payload (and severity) it last had, for its "resolved" notice."""
    episodes = Episodes(engine)
    other = Seen("end_of_maintenance:prod-west:agent-1.3", "end_of_maintenance", "critical",
                 "prod-west", "team", {"summary": "west"})  # fmt: skip
    episodes.sync_findings([SEEN, other], now=T0, superseded=never)
    changed = replace(SEEN, severity="warning", payload={"summary": "s2", "new": [1, 2]})
    states = episodes.sync_findings([changed], now=T1, superseded=never)
    assert (states[KEY].payload, states[KEY].severity, states[KEY].last_seen_at) == (
        changed.payload,
        "warning",
        T1,
    )
    assert states[KEY].first_seen_at == T0
    stored = {s.dedup_key: s for s in episodes.finding_states(opened_since=T0)}
    assert (stored[KEY].payload, stored[KEY].severity, stored[KEY].last_seen_at) == (
        changed.payload,
        "warning",
        T1,
    )
    ended = stored[other.dedup_key]
    assert (ended.payload, ended.severity, ended.resolved_at, ended.last_seen_at) == (
        other.payload,
        "critical",
        T1,
        T0,
    )
    writes: list[str] = []

    def payload_writes(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE finding_state SET payload"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", payload_writes)
    try:
        episodes.sync_findings([changed], now=T1 + timedelta(hours=1), superseded=never)
        assert writes == []  # the stored JSON is this run's: nothing to rewrite
        episodes.sync_findings([replace(changed, payload={"summary": "s3"})], now=T1 + timedelta(hours=2),
                               superseded=never)  # fmt: skip
        assert len(writes) == 1
    finally:
        event.remove(engine, "before_cursor_execute", payload_writes)
    [stored_again] = [s for s in episodes.finding_states(opened_since=T0) if s.dedup_key == KEY]
    assert stored_again.payload == {"summary": "s3"}


def test_a_dry_run_writes_nothing(engine: Engine) -> None:
    episodes = Episodes(engine)
    result = episodes.sync_findings([SEEN], now=T0, superseded=never, commit=False)
    assert set(result) == {KEY}
    assert episodes.finding_states(opened_since=T0 - timedelta(days=1)) == []


def test_two_notify_runs_recording_the_same_new_findings_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    barrier = threading.Barrier(2, timeout=30)
    original = Connection.execute
    local = threading.local()
    waited: list[bool] = []

    def execute_then_wait(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, statement, *args, **kwargs)
        if not getattr(local, "waited", False) and "FROM finding_state" in str(statement):
            local.waited = True  # both runs have read the open findings: neither has inserted
            result = list(result)  # type: ignore[assignment]
            waited.append(True)
            barrier.wait()
        return result

    monkeypatch.setattr(Connection, "execute", execute_then_wait)
    current = [
        Seen(
            f"end_of_maintenance:prod-{n}:1.3",
            "end_of_maintenance",
            "critical",
            f"prod-{n}",
            "team",
            {"n": n},
        )
        for n in range(3)
    ]
    results = run_together(
        *(lambda: Episodes(engine).sync_findings(current, now=T0, superseded=never) for _ in range(2))
    )
    assert all(set(result) == {item.dedup_key for item in current} for result in results)
    assert all(state.episode == 0 and state.resolved_at is None for r in results for state in r.values())
    monkeypatch.undo()
    assert waited == [True, True]  # the two runs did read before either wrote
    assert row_count(engine, finding_state_table) == 3


def test_a_fleets_worth_of_findings_is_written_and_ended_across_statement_batches(engine: Engine) -> None:
    # more findings than one statement writes: inserted, updated and ended in several batches
    count = WRITE_BATCH * 2 + 100
    seen = [
        Seen(f"k{n:05d}", "end_of_maintenance", "warning", f"d{n:05d}", "team", {"n": n})
        for n in range(count)
    ]
    episodes = Episodes(engine)
    first = episodes.sync_findings(seen, now=T0, superseded=never)
    assert len(first) == count and row_count(engine, finding_state_table) == count
    # the next run: the first 700 again, every other one with new facts; the rest no longer
    again = [replace(item, payload={"n": -n}) if n % 2 else item for n, item in enumerate(seen[:700])]
    second = episodes.sync_findings(again, now=T1, superseded=never)
    assert len(second) == 700 and all(item.last_seen_at == T1 for item in second.values())
    stored = {item.dedup_key: item for item in episodes.finding_states(opened_since=T0)}
    assert stored["k00001"].payload == {"n": -1} and stored["k00002"].payload == {"n": 2}
    assert [key for key, item in stored.items() if item.resolved_at == T1] == [
        f"k{n:05d}" for n in range(700, count)
    ]
    assert all(stored[f"k{n:05d}"].resolved_at is None for n in range(700))
