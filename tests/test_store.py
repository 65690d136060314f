from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from supportwatch.store import Store
from supportwatch.tables import RELEASE_FACTS, observation_table, release_table
from supportwatch.values import Release

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_record_then_read_back_with_provenance(engine: Engine) -> None:
    store = Store(engine)
    result = store.record(
        "pinned",
        None,
        [Release("agent", "1.6.0", date(2026, 4, 16), image_tags=("3.2-2-python-3.12-astro-agent-1.6.0",))],
        seen_at=T0,
    )
    assert result.new == (("agent", "1.6.0"),)
    [release] = store.releases()
    assert release.released_on == date(2026, 4, 16)
    assert release.sources == ("pinned",)
    assert release.image_tags == ("3.2-2-python-3.12-astro-agent-1.6.0",)
    [obs] = store.observations("agent", "1.6.0")
    assert obs.seen_at == T0 and obs.seen_at.tzinfo is not None


def test_source_priority_decides_the_effective_date(engine: Engine) -> None:
    store = Store(engine, source_priority=["pinned", "feed"])
    store.record(
        "feed", "https://feed.invalid/rss", [Release("agent", "1.7.0", date(2026, 6, 2))], seen_at=T0
    )
    store.record("pinned", None, [Release("agent", "1.7.0", date(2026, 6, 1))], seen_at=T1)
    [release] = store.releases("agent")
    assert release.released_on == date(2026, 6, 1)
    assert release.sources == ("feed", "pinned")
    claims = {obs.source: obs.released_on for obs in store.observations("agent", "1.7.0")}
    assert claims == {"feed": date(2026, 6, 2), "pinned": date(2026, 6, 1)}


def test_a_release_is_never_deleted_when_a_source_stops_listing_it(engine: Engine) -> None:
    store = Store(engine)
    store.record(
        "feed",
        None,
        [Release("agent", "1.6.0", date(2026, 4, 16)), Release("agent", "1.6.1", None)],
        seen_at=T0,
    )
    result = store.record("feed", None, [Release("agent", "1.6.1", date(2026, 5, 4))], seen_at=T1)
    assert result.changed == (("agent", "1.6.1"),)
    assert result.new == ()
    assert {r.version for r in store.releases("agent")} == {"1.6.0", "1.6.1"}


def test_recording_the_same_facts_again_changes_nothing(engine: Engine) -> None:
    store = Store(engine)
    releases = [Release("chart", "2.3.3", date(2026, 7, 22), app_version="1.8.2")]
    store.record("index", "https://charts.invalid/index.yaml", releases, seen_at=T0)
    again = store.record("index", "https://charts.invalid/index.yaml", releases, seen_at=T1)
    assert again.new == ()
    assert again.changed == ()
    assert again.unchanged == 1
    [obs] = store.observations("chart", "2.3.3")
    assert obs.first_seen_at == T0
    assert obs.seen_at == T1


def test_yanked_by_any_source_and_tags_merged(engine: Engine) -> None:
    store = Store(engine)
    store.record(
        "a",
        None,
        [Release("agent", "1.6.2", date(2026, 5, 20), image_tags=("3.2-3-python-3.12-astro-agent-1.6.2",))],
        seen_at=T0,
    )
    store.record(
        "b",
        None,
        [
            Release(
                "agent",
                "1.6.2",
                date(2026, 5, 20),
                yanked=True,
                image_tags=("3.2-3-python-3.11-astro-agent-1.6.2",),
            )
        ],
        seen_at=T0,
    )
    [release] = store.releases("agent")
    assert release.yanked
    assert release.image_tags == (
        "3.2-3-python-3.11-astro-agent-1.6.2",
        "3.2-3-python-3.12-astro-agent-1.6.2",
    )


def test_reconcile_all_applies_an_edited_source_priority(engine: Engine) -> None:
    Store(engine, source_priority=["feed", "pinned"]).record(
        "feed", None, [Release("agent", "1.7.0", date(2026, 6, 2))], seen_at=T0
    )
    Store(engine, source_priority=["feed", "pinned"]).record(
        "pinned", None, [Release("agent", "1.7.0", date(2026, 6, 1))], seen_at=T0
    )
    assert Store(engine).releases("agent")[0].released_on == date(2026, 6, 2)
    reordered = Store(engine, source_priority=["pinned", "feed"])
    assert reordered.reconcile_all(T1) == 1
    assert reordered.releases("agent")[0].released_on == date(2026, 6, 1)
    assert reordered.reconcile_all(T1) == 0


def test_a_claim_without_a_date_keeps_the_date_the_source_gave_before(engine: Engine) -> None:
    # a feed whose releaseDate turns null or changes format must not erase the known dates
    store = Store(engine)
    store.record("versions", None, [Release("agent", "1.6.0", date(2026, 4, 16))], seen_at=T0)
    result = store.record("versions", None, [Release("agent", "1.6.0", None, yanked=True)], seen_at=T1)
    assert result.changed == (("agent", "1.6.0"),)  # the rest of the claim still applies
    [release] = store.releases("agent")
    assert release.released_on == date(2026, 4, 16)
    assert release.yanked
    [obs] = store.observations("agent", "1.6.0")
    assert obs.released_on == date(2026, 4, 16)
    assert obs.seen_at == T1


def test_an_exhaustive_source_withdraws_the_claims_it_no_longer_makes(engine: Engine) -> None:
    store = Store(engine)
    wrong = [
        Release("agent", "1.6.1", date(2026, 5, 4), yanked=True),
        Release("agent", "1.6.0", date(2026, 4, 16)),
    ]
    store.record("pinned", None, wrong, seen_at=T0, exhaustive=True)
    assert {r.version: r.yanked for r in store.releases("agent")} == {"1.6.0": False, "1.6.1": True}
    fixed = [Release("agent", "1.6.0", None)]  # 1.6.1 taken out of the config, 1.6.0's date removed
    result = store.record("pinned", None, fixed, seen_at=T1, exhaustive=True)
    assert set(result.changed) == {("agent", "1.6.0"), ("agent", "1.6.1")}
    assert {r.version for r in store.releases("agent")} == {"1.6.0"}
    releases = {r.version: r for r in store.releases("agent", withdrawn=True)}
    assert set(releases) == {"1.6.0", "1.6.1"}  # a release is never deleted
    assert not releases["1.6.1"].yanked
    assert releases["1.6.1"].sources == ()
    assert releases["1.6.0"].released_on is None
    assert store.observations("agent", "1.6.1") == []


def test_the_release_facts_are_defined_once_for_both_tables() -> None:
    facts = set(RELEASE_FACTS)
    assert facts == {f.name for f in fields(Release)} - {"component", "version", "sources"}
    for table in (release_table, observation_table):
        assert facts <= set(table.c.keys())


def test_every_fact_is_recorded_observed_and_read_back(engine: Engine) -> None:
    store = Store(engine)
    claim = Release(
        "chart",
        "2.0.0-rc.1",
        date(2026, 5, 1),
        app_version="1.5.0",
        image_tags=("b", "a"),
        channel="beta",
        yanked=True,
    )
    store.record("index", "https://charts.invalid/index.yaml", [claim], seen_at=T0)
    [release] = store.releases("chart")
    assert release == replace(claim, image_tags=("a", "b"), sources=("index",))
    [obs] = store.observations("chart", "2.0.0-rc.1")
    assert (obs.source, obs.url, obs.released_on) == (
        "index",
        "https://charts.invalid/index.yaml",
        date(2026, 5, 1),
    )
    assert store.all_observations() == [obs]
