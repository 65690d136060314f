"""The pure parsers on the project's fixture files (real formats, own values)."""

from __future__ import annotations

import json
import resource
import time
from datetime import date

import pytest
import yaml

from sources.httpserver import fixture_bytes
from supportwatch.errors import SourceError, SourceRejected
from supportwatch.sources.astro_updates import parse_astro_updates
from supportwatch.sources.feed import parse_feed
from supportwatch.sources.helm import parse_helm_index
from supportwatch.values import Release

CHART = "astro-remote-execution-agent"


def _by_version(releases: tuple[Release, ...]) -> dict[str, Release]:
    return {item.version: item for item in releases}


# --- feed ---------------------------------------------------------------------------------


def test_rss_written_release_date_beats_the_evening_before_pubdate() -> None:
    parsed = parse_feed(fixture_bytes("agent-notes.rss.xml"), component="agent")
    found = _by_version(parsed.releases)
    assert list(found) == ["1.8.2", "1.8.1", "1.8.0", "1.7.2"]
    assert found["1.8.2"].released_on == date(2026, 7, 17)  # pubDate says 16 Jul 23:00 GMT
    assert found["1.8.1"].released_on == date(2026, 7, 15)
    assert found["1.8.0"].released_on == date(2026, 7, 1)  # "v1.8.0" title, "Jul 1, 2026"
    assert found["1.7.2"].released_on == date(2026, 6, 15)  # no written date: pubDate's own day
    assert parsed.skipped == 1  # the date-titled entry


def test_atom_entries_take_the_date_written_in_the_content() -> None:
    parsed = parse_feed(fixture_bytes("chart-notes.atom.xml"), component="chart")
    found = _by_version(parsed.releases)
    assert found["2.3.3"].released_on == date(2026, 7, 22)
    # no written release date: the Atom updated stamp, on its own (+10:00) day
    assert found["2.3.2"].released_on == date(2026, 7, 18)


def test_date_titled_feed_yields_nothing_and_counts_skips() -> None:
    parsed = parse_feed(fixture_bytes("date-titles.rss.xml"), component="agent")
    assert parsed.releases == ()
    assert parsed.skipped == 3


def test_configured_version_pattern() -> None:
    parsed = parse_feed(
        fixture_bytes("agent-notes.rss.xml"),
        component="agent",
        version_pattern=r"^Remote Execution Agent (?P<version>\S+)$",
    )
    assert [item.version for item in parsed.releases] == ["1.8.2", "1.8.1"]
    assert parsed.skipped == 3


def test_configured_date_pattern() -> None:
    body = fixture_bytes("chart-notes.atom.xml").replace(b"July 22, 2026", b"Published 2026-07-21")
    parsed = parse_feed(body, component="chart", date_pattern=r"Published (?P<date>\d{4}-\d{2}-\d{2})")
    assert _by_version(parsed.releases)["2.3.3"].released_on == date(2026, 7, 21)


def test_html_is_not_a_feed() -> None:
    html = b"<!doctype html><html><head><title>Release notes</title></head><body><p>1.8.2</p></body></html>"
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        parse_feed(html, component="agent")


def test_bozo_feed_keeps_its_good_entries() -> None:
    parsed = parse_feed(fixture_bytes("bozo.rss.xml"), component="agent")
    found = _by_version(parsed.releases)
    assert found["1.6.1"].released_on == date(2026, 5, 5)
    assert found["1.6.0"].released_on == date(2026, 4, 16)
    assert parsed.skipped >= 1


def test_billion_laughs_is_refused_in_bounded_time_and_memory() -> None:
    lol = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)
    ]
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [' + b"".join(lol) + b"]>"
        b'<rss version="2.0"><channel><title>x</title><item><title>Agent 1.0.0 &lol9;</title></item>'
        b"</channel></rss>"
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(SourceError, match="entities"):
        parse_feed(body, component="agent")
    assert time.monotonic() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


# --- helm ---------------------------------------------------------------------------------


def test_helm_index_records_the_tracked_chart() -> None:
    parsed = parse_helm_index(fixture_bytes("index.yaml"), chart=CHART)
    found = _by_version(parsed.releases)
    assert list(found) == ["2.3.3", "2.3.2", "2.3.1", "2.0.0", "1.5.0"]
    assert found["2.3.3"].released_on == date(2026, 7, 22)  # nanosecond stamp
    assert found["2.3.3"].app_version == "1.8.2"
    assert found["2.3.2"].released_on == date(2026, 7, 17)  # +02:00 stamp
    assert found["1.5.0"].released_on is None  # Helm's 0001-01-01 "never set"
    assert found["1.5.0"].app_version == "1.5.0"  # "v1.5.0" normalised
    assert all(item.component == "chart" for item in parsed.releases)


def test_helm_json_index_is_read_as_json() -> None:
    document = yaml.safe_load(fixture_bytes("index.yaml"))
    parsed = parse_helm_index(json.dumps(document, default=str).encode(), chart=CHART)
    assert _by_version(parsed.releases)["2.3.3"].app_version == "1.8.2"


def test_helm_fast_path_equals_the_full_parse() -> None:
    body = fixture_bytes("index.yaml")
    no_generated = body.replace(b"generated:", b"serverInfo:")  # not Helm's layout: full parse
    assert parse_helm_index(body, chart=CHART) == parse_helm_index(no_generated, chart=CHART)


def test_helm_missing_chart_names_the_charts_present() -> None:
    with pytest.raises(
        SourceRejected, match=r"no chart 'other' \(charts: astro-remote-execution-agent, sentinel\)"
    ):
        parse_helm_index(fixture_bytes("index.yaml"), chart="other")


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.97])
def test_truncated_helm_index_is_an_error(cut: int) -> None:
    body = fixture_bytes("index.yaml")
    truncated = body[: int(len(body) * cut)] + b'\n    created: "2026'
    with pytest.raises(SourceError):
        parse_helm_index(truncated, chart=CHART)


def test_helm_index_with_aliases_is_refused() -> None:
    body = fixture_bytes("index.yaml").replace(
        b"    maintainers:\n    - name: platform-team\n    name: astro-remote-execution-agent\n",
        b"    maintainers: &team\n    - name: platform-team\n    name: astro-remote-execution-agent\n",
        1,
    )
    body = body.replace(b"    maintainers:\n    - name: platform-team\n", b"    maintainers: *team\n", 1)
    with pytest.raises(SourceRejected, match="anchors/aliases"):
        parse_helm_index(body, chart=CHART)


@pytest.mark.parametrize("chart", [CHART, "sentinel"])
def test_helm_index_with_python_tags_is_refused(chart: str) -> None:
    body = fixture_bytes("index.yaml").replace(
        f"    name: {chart}\n".encode(),
        f"    name: {chart}\n    x: !!python/object/apply:os.system ['true']\n".encode(),
        1,
    )
    with pytest.raises(SourceRejected, match="tag"):
        parse_helm_index(body, chart=CHART)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"entries: {}\n", "no 'apiVersion'"),
        (b"apiVersion: v1\ngenerated: x\n", "no 'entries'"),
        (b"- a\n- b\n", "not a mapping"),
        (b'{"apiVersion": "v1", "entries": ', "not valid JSON"),
        (b"apiVersion: v1\nentries: [\n", "not valid YAML"),
    ],
)
def test_helm_index_shape_is_required(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_helm_index(body, chart=CHART)


# --- astro_updates ------------------------------------------------------------------------


def test_agent_version_feed_stable_only_with_tags_and_yanked() -> None:
    parsed = parse_astro_updates(fixture_bytes("astro-agent.json"), component="agent")
    found = _by_version(parsed.releases)
    assert set(found) == {"1.8.2", "1.8.1", "1.7.2"}  # 1.9.0-rc.1 is on the beta channel
    assert found["1.8.2"].released_on == date(2026, 7, 17)
    assert found["1.8.2"].image_tags == (
        "3.2-5-python-3.12-astro-agent-1.8.2",
        "3.2-5-python-3.13-astro-agent-1.8.2",
        "3.2-5-python-3.13-astro-agent-1.8.2-base",
    )
    assert found["1.8.1"].yanked
    assert found["1.7.2"].image_tags == ("3.2-3-python-3.12-astro-agent-1.7.2",)  # bad tag dropped
    assert found["1.7.2"].released_on == date(2026, 7, 1)
    assert parsed.skipped == 1  # "latest" is not a version


def test_agent_version_feed_other_channels_when_configured() -> None:
    parsed = parse_astro_updates(
        fixture_bytes("astro-agent.json"), component="agent", channels=("stable", "beta")
    )
    assert _by_version(parsed.releases)["1.9.0-rc.1"].channel == "beta"


def test_runtime_version_feed() -> None:
    parsed = parse_astro_updates(fixture_bytes("astronomer-runtime.json"), component="runtime")
    found = _by_version(parsed.releases)
    assert set(found) == {"3.2-5", "3.2-4"}  # 3.3-1 is alpha; 11.4.0 is the old map
    assert found["3.2-4"].yanked
    assert found["3.2-5"].released_on == date(2026, 7, 10)
    assert all(item.component == "runtime" for item in parsed.releases)


def test_version_feed_of_the_wrong_kind_says_so() -> None:
    with pytest.raises(SourceError, match=r"no 'runtimeVersionsV3'.*component be agent"):
        parse_astro_updates(fixture_bytes("astro-agent.json"), component="runtime")
    with pytest.raises(SourceError, match="not valid JSON"):
        parse_astro_updates(b"<html>", component="agent")


# --- bad input found in review ------------------------------------------------------------


def _rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>notes</title>'
        f"{items}</channel></rss>"
    ).encode()


def test_an_empty_answer_is_not_a_feed() -> None:
    # an empty 200 body used to crash the whole poll with an AttributeError
    for body in (b"", b"   \n"):
        with pytest.raises(SourceError, match="not an RSS or Atom feed"):
            parse_feed(body, component="agent")


def test_an_impossible_written_date_falls_back_to_the_next_date() -> None:
    parsed = parse_feed(
        _rss(
            "<item><title>Remote Execution Agent 1.8.2</title>"
            "<description>Release date: February 30, 2026</description>"
            "<pubDate>Fri, 17 Jul 2026 10:00:00 GMT</pubDate></item>"
        ),
        component="agent",
    )
    assert parsed.releases[0].released_on == date(2026, 7, 17)


def test_duplicate_versions_in_one_answer_keep_the_earliest_date_whatever_the_order() -> None:
    items = [
        "<item><title>Agent 1.8.2</title><description>Release date: July 20, 2026</description></item>",
        "<item><title>Agent 1.8.2</title><description>Release date: July 17, 2026</description></item>",
    ]
    for order in (items, items[::-1]):
        [release] = parse_feed(_rss("".join(order)), component="agent").releases
        assert release.released_on == date(2026, 7, 17)
    entries = [
        "  - version: 2.3.3\n    created: 2026-07-25T10:00:00Z\n",
        "  - version: 2.3.3\n    created: 2026-07-22T10:00:00Z\n",
    ]
    for order in (entries, entries[::-1]):
        body = f"apiVersion: v1\nentries:\n  {CHART}:\n{''.join(order)}generated: 2026-07-25T10:00:00Z\n"
        [chart] = parse_helm_index(body.encode(), chart=CHART).releases
        assert chart.released_on == date(2026, 7, 22)
    feed = {
        "clientVersions": {
            "1.8.2": {"metadata": {"channel": "stable", "releaseDate": "2026-07-20"}},
            "v1.8.2": {"metadata": {"channel": "stable", "releaseDate": "2026-07-17"}},
        }
    }
    [agent] = parse_astro_updates(json.dumps(feed).encode(), component="agent").releases
    assert agent.released_on == date(2026, 7, 17)


def test_helm_created_as_a_plain_date_and_odd_app_versions() -> None:
    body = (
        f"apiVersion: v1\nentries:\n  {CHART}:\n"
        "  - version: 2.3.3\n    appVersion: {a: 1}\n    created: 2026-07-22\n"
        "  - version: 2.3.2\n    created: 2026-07-17T23:30:00-05:00\n"
        "generated: 2026-07-25T10:00:00Z\n"
    )
    found = _by_version(parse_helm_index(body.encode(), chart=CHART).releases)
    assert found["2.3.3"].released_on == date(2026, 7, 22)
    assert found["2.3.3"].app_version is None  # a mapping is not a version
    assert found["2.3.2"].released_on == date(2026, 7, 17)  # the day in the stamp's own offset


@pytest.mark.parametrize("value", ["false", "no", 0, None, "", [], {}])
def test_only_a_true_yanked_flag_yanks(value: object) -> None:
    # bool("false") is True: a string flag used to mark a good release yanked (a critical finding)
    feed = {"clientVersions": {"1.8.2": {"metadata": {"channel": "stable", "yanked": value}}}}
    [release] = parse_astro_updates(json.dumps(feed).encode(), component="agent").releases
    assert not release.yanked


@pytest.mark.parametrize("value", [True, "true", "True"])
def test_a_true_yanked_flag_yanks(value: object) -> None:
    feed = {"clientVersions": {"1.8.2": {"metadata": {"channel": "stable", "yanked": value}}}}
    [release] = parse_astro_updates(json.dumps(feed).encode(), component="agent").releases
    assert release.yanked


def test_a_pubdate_with_an_absurd_year_is_no_date_not_a_crash() -> None:
    # email.utils raised OverflowError (not ValueError) out of the parser and the whole poll
    parsed = parse_feed(
        _rss(
            "<item><title>Agent 1.8.2</title><pubDate>Mon, 01 Jan 99999999999 00:00:00 GMT</pubDate></item>"
        ),
        component="agent",
    )
    assert [(item.version, item.released_on) for item in parsed.releases] == [("1.8.2", None)]
