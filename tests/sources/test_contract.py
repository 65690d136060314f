"""The contract every source kind keeps, whatever its server answers.

One suite, run for each kind as the wiring builds it (``KINDS``) and polled as the service
polls it (``poll_one``) against a real SQLite store: the RSS and Atom ``feed``s, the Helm
index, both of the vendor's version feeds (``astro_updates``, agent and Runtime) and ``static``.
After a good answer, each bad one of the table below is served on 127.0.0.1, and then:

- no release stored before is gone (a source never deletes one);
- a failed poll is on the source's state (one more failure, the error, the last good
  answer's validators and count kept) and left the catalog exactly as it was;
- no secret (the source's token, the credential in its url's query) reaches the outcome,
  the state, the data-health findings or the log, even when the server echoes it.

A ``static`` source reads nothing: whatever is served, its poll succeeds without a request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from sources.httpserver import Handler, Server, Sleeps, loopback_settings, static, status
from supportwatch.config import Settings
from supportwatch.engine import create_engine_for
from supportwatch.health import StaleAfter, stale_findings
from supportwatch.migrations import upgrade
from supportwatch.sources.http import Fetcher
from supportwatch.sources.poll import PollOutcome, poll_one
from supportwatch.sources.wiring import KINDS
from supportwatch.store import Store
from supportwatch.values import Release

T0 = datetime(2026, 7, 23, 8, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
CHART = "astro-remote-execution-agent"
TOKEN = "tok-contract-S3CR3T"
QUERY_SECRET = "qs-contract-S3CR3T"
PATH = f"/src?key={QUERY_SECRET}"
MAX_BYTES = 16384
RETRIES = 2


# --- the kinds: each writes a document listing the given versions in its own format ---------


def _day(index: int) -> str:
    return f"2026-07-{index + 1:02d}"


def _helm(versions: tuple[str, ...]) -> bytes:
    entries = "".join(
        f'  - name: {CHART}\n    version: {v}\n    appVersion: 1.8.2\n    created: "{_day(i)}T10:00:00Z"\n'
        for i, v in enumerate(versions)
    )
    return f'apiVersion: v1\nentries:\n  {CHART}:\n{entries}generated: "2026-07-23T00:00:00Z"\n'.encode()


def _astro_agent(versions: tuple[str, ...]) -> bytes:
    return json.dumps(
        {
            "clientVersions": {
                v: {
                    "metadata": {"channel": "stable", "releaseDate": _day(i)},
                    "imageTags": [f"3.2-5-python-3.12-astro-agent-{v}"],
                }
                for i, v in enumerate(versions)
            }
        }
    ).encode()


def _astro_runtime(versions: tuple[str, ...]) -> bytes:
    metadata = {"airflowVersion": "3.2.1", "channel": "stable", "pythonVersions": ["3.12"], "yanked": False}
    return json.dumps(
        {
            "runtimeVersionsV3": {
                v: {"metadata": {**metadata, "releaseDate": _day(i)}} for i, v in enumerate(versions)
            }
        }
    ).encode()


def _rss(versions: tuple[str, ...]) -> bytes:
    items = "".join(
        f"<item><title>Remote Execution Agent {v}</title>"
        f"<description><![CDATA[<p>Release date: July {i + 1}, 2026</p>]]></description></item>"
        for i, v in enumerate(versions)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Agent notes</title>'
        f"<link>https://docs.example.test/agent</link><description>notes</description>{items}</channel></rss>"
    ).encode()


def _atom(versions: tuple[str, ...]) -> bytes:
    entries = "".join(
        f"<entry><id>urn:chart:{v}</id><updated>{_day(i)}T10:00:00Z</updated><title>Helm chart {v}</title>"
        f'<content type="html">&lt;p&gt;Release date: July {i + 1}, 2026&lt;/p&gt;</content></entry>'
        for i, v in enumerate(versions)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:chart-notes</id><title>Chart notes</title><updated>2026-07-23T00:00:00Z</updated>{entries}</feed>"
    ).encode()


@dataclass(frozen=True)
class Kind:
    """One source kind under contract: its config entry and, for an HTTP kind, its document."""

    config: dict[str, Any]
    component: str
    versions: tuple[str, ...]
    document: Callable[[tuple[str, ...]], bytes] | None = None  # None: reads nothing

    @property
    def fetches(self) -> bool:
        return self.document is not None

    def settings(self, server: Server, versions: tuple[str, ...]) -> dict[str, Any]:
        """The source's config entry; a static one declares ``versions`` itself."""
        if self.document is None:
            releases = [
                {"component": self.component, "version": v, "released_on": _day(i)}
                for i, v in enumerate(versions)
            ]
            return {**self.config, "name": "src", "releases": releases}
        return {**self.config, "name": "src", "url": server.url(PATH), "token": TOKEN, "max_bytes": MAX_BYTES}

    def body(self, versions: tuple[str, ...]) -> bytes:
        return self.document(versions) if self.document is not None else b""


AGENTS = ("1.8.0", "1.8.1", "1.8.2", "1.8.3")
CHARTS = ("2.3.0", "2.3.1", "2.3.2", "2.3.3")
RUNTIMES = ("3.2-1", "3.2-2", "3.2-3", "3.2-4")
SOURCE_KINDS = {
    "feed-rss": Kind({"kind": "feed", "component": "agent"}, "agent", AGENTS, _rss),
    "feed-atom": Kind({"kind": "feed", "component": "chart"}, "chart", CHARTS, _atom),
    "helm": Kind({"kind": "helm", "chart": CHART}, "chart", CHARTS, _helm),
    "astro_updates-agent": Kind(
        {"kind": "astro_updates", "component": "agent"}, "agent", AGENTS, _astro_agent
    ),
    "astro_updates-runtime": Kind(
        {"kind": "astro_updates", "component": "runtime"}, "runtime", RUNTIMES, _astro_runtime
    ),
    "static": Kind({"kind": "static"}, "agent", AGENTS),
}


def test_every_configurable_kind_is_under_contract() -> None:
    assert {kind.config["kind"] for kind in SOURCE_KINDS.values()} == set(KINDS)


# --- the bad answers ----------------------------------------------------------------------


def _retry_at(seconds: int) -> Handler:
    # an HTTP date: measured from the poll's now (T1), never from the wall clock
    return status(429, {"Retry-After": format_datetime(T1 + timedelta(seconds=seconds), usegmt=True)})


# case -> (what the server answers, the versions the answer lists: a static source declares them)
BadAnswer = Callable[[Kind], tuple[Handler, tuple[str, ...]]]
BAD_ANSWERS: dict[str, BadAnswer] = {
    "empty-body": lambda k: (status(200, body=b""), k.versions),
    "garbage": lambda k: (
        status(200, body=b"\x00\xff\xfe garbage " + TOKEN.encode() + bytes(range(256))),
        k.versions,
    ),
    "html-error-page": lambda k: (
        status(
            200,
            {"Content-Type": "text/html"},
            f"<!doctype html><html><body><h1>Maintenance</h1><p>Bearer {TOKEN}</p></body></html>".encode(),
        ),
        k.versions,
    ),
    "truncated": lambda k: (
        status(200, body=k.body(k.versions)[: len(k.body(k.versions)) * 3 // 4]),
        k.versions,
    ),
    "huge": lambda k: (static(k.body(k.versions) + b"\n" * MAX_BYTES), k.versions),
    "wrong-content-type": lambda k: (
        status(200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + bytes(64)),
        k.versions,
    ),
    "404": lambda k: (status(404, body=f"no such feed for {TOKEN}".encode()), k.versions),
    "500": lambda k: (status(500, body=b"internal error"), k.versions),
    "429-retry-after-seconds": lambda k: (status(429, {"Retry-After": "3"}), k.versions),
    "429-retry-after-date": lambda k: (_retry_at(5), k.versions),
    "dropped-most-releases": lambda k: (static(k.body(k.versions[:1])), k.versions[:1]),
}
# what a poll of each kind ends in after each bad answer: a failure, unless listed here
ACCEPTED = {
    # a cut-off feed or YAML index keeps the entries it still holds (test_parsers: the bozo
    # feed, an index without ``generated``); 3 of the 4 versions are plausible, and the one
    # cut off stays stored
    ("feed-rss", "truncated"),
    ("feed-atom", "truncated"),
    ("helm", "truncated"),
    # a static source reads nothing: no answer can be bad, and its config is the truth
    *(("static", case) for case in BAD_ANSWERS),
}


# --- the rig: a loopback server, a loopback-allowed fetcher, a SQLite store -----------------


@dataclass
class Rig:
    server: Server
    store: Store
    fetcher: Fetcher
    sleeps: Sleeps
    outcomes: list[PollOutcome] = field(default_factory=list)

    def poll(self, kind: Kind, versions: tuple[str, ...], now: datetime) -> PollOutcome:
        """Build the source as the wiring does and poll it as the service does."""
        settings = Settings.model_validate({"sources": [kind.settings(self.server, versions)]})
        [config] = settings.sources
        source = KINDS[config.kind].build(config, lambda: self.fetcher)
        outcome = poll_one(self.store, source, now)
        self.outcomes.append(outcome)
        return outcome

    def stored(self) -> set[tuple[str, str]]:
        """Every stored release, those no source vouches for any more included."""
        return {(item.component, item.version) for item in self.store.releases(withdrawn=True)}


@pytest.fixture
def rig(server: Server, sqlite_url: str, sleeps: Sleeps) -> Iterator[Rig]:
    engine = create_engine_for(sqlite_url)
    upgrade(engine)
    with httpx.Client(follow_redirects=False, trust_env=False) as client:
        fetcher = Fetcher(client, loopback_settings(retries=RETRIES), sleep=sleeps)
        yield Rig(server, Store(engine), fetcher, sleeps)
    engine.dispose()


def _good(rig: Rig, kind: Kind) -> None:
    rig.server.routes[PATH] = static(kind.body(kind.versions), etag='"good"')
    first = rig.poll(kind, kind.versions, T0)
    assert (first.status, first.new) == ("fetched", len(kind.versions)), first
    if kind.fetches:
        assert rig.server.log[-1][1]["Authorization"] == f"Bearer {TOKEN}"  # the secret is in play


def _secrets_kept(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """No secret in what supportwatch says: outcomes, the stored error, findings, its log.

    (The state keeps the url to fetch, query included; it is shown through ``display`` only.
    The HTTP client's own debug log is silenced by ``run``.)
    """
    state = rig.store.source_state("src")
    findings = stale_findings(rig.store.source_states(), StaleAfter(stale_failures=1), now=T1)
    ours = [record for record in caplog.records if record.name.startswith("supportwatch")]
    texts = [repr(rig.outcomes), str(state.last_error if state else ""), repr(findings)]
    texts += [record.getMessage() + str(record.exc_text or "") for record in ours]
    for secret in (TOKEN, QUERY_SECRET):
        leaked = [text for text in texts if secret in text]
        assert not leaked, (secret, leaked)


# --- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
@pytest.mark.parametrize("name", list(SOURCE_KINDS))
def test_a_bad_answer_deletes_nothing_is_recorded_and_leaks_no_secret(
    name: str, case: str, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kind = SOURCE_KINDS[name]
    _good(rig, kind)
    before, catalog, good_state = rig.stored(), rig.store.releases(), rig.store.source_state("src")
    assert good_state is not None
    handler, versions = BAD_ANSWERS[case](kind)
    rig.server.routes[PATH] = handler
    requests = len(rig.server.log)

    outcome = rig.poll(kind, versions, T1)

    assert rig.stored() >= before  # never deletes a release
    state = rig.store.source_state("src")
    assert state is not None and state.last_attempt_at == T1
    if (name, case) in ACCEPTED:
        assert outcome.status == "fetched", outcome
        assert (state.consecutive_failures, state.last_success_at) == (0, T1)
    else:
        assert outcome.status == "failed", outcome
        assert outcome.error
        assert state.consecutive_failures == 1
        assert state.last_error == outcome.error
        assert state.last_success_at == T0
        kept = (good_state.etag, good_state.last_modified, good_state.release_count)
        assert (state.etag, state.last_modified, state.release_count) == kept
        assert rig.store.releases() == catalog  # the last good data, untouched
    if not kind.fetches:
        assert rig.server.log == []  # a static source never reads the network
    elif case == "429-retry-after-seconds":
        assert rig.sleeps.calls == [3.0] * RETRIES
    elif case == "429-retry-after-date":
        assert len(rig.sleeps.calls) == RETRIES
        assert all(4.0 < seconds <= 5.0 for seconds in rig.sleeps.calls), rig.sleeps.calls
    elif case == "404":
        assert len(rig.server.log) == requests + 1  # not retried
    _secrets_kept(rig, caplog)


@pytest.mark.parametrize("name", list(SOURCE_KINDS))
def test_a_release_the_source_stops_listing_stays_stored(name: str, rig: Rig) -> None:
    kind = SOURCE_KINDS[name]
    _good(rig, kind)
    rig.server.routes[PATH] = static(kind.body(kind.versions[1:]), etag='"fewer"')
    outcome = rig.poll(kind, kind.versions[1:], T1)
    assert outcome.status == "fetched", outcome
    dropped = (kind.component, kind.versions[0])
    assert dropped in rig.stored()
    listed: dict[tuple[str, str], Release] = {(r.component, r.version): r for r in rig.store.releases()}
    if kind.fetches:
        # a feed that stops listing a version still vouches for it, with its date
        assert str(listed[dropped].released_on) == _day(0)
    else:
        # the config is the truth: an entry taken out is withdrawn (kept, no longer listed)
        assert dropped not in listed


@pytest.mark.parametrize("name", [name for name, kind in SOURCE_KINDS.items() if kind.fetches])
def test_failures_count_up_and_a_good_answer_resets_them(name: str, rig: Rig) -> None:
    kind = SOURCE_KINDS[name]
    _good(rig, kind)
    rig.server.routes[PATH] = status(503)
    for hour in (1, 2, 3):
        assert rig.poll(kind, kind.versions, T0 + timedelta(hours=hour)).status == "failed"
    state = rig.store.source_state("src")
    assert state is not None and state.consecutive_failures == 3
    [finding] = stale_findings([state], StaleAfter(), now=T0 + timedelta(hours=3))
    assert "failed 3 polls in a row" in finding.summary
    rig.server.routes[PATH] = static(kind.body(kind.versions), etag='"good"')
    assert rig.poll(kind, kind.versions, T0 + timedelta(hours=4)).status == "unchanged"  # 304
    recovered = rig.store.source_state("src")
    assert recovered is not None
    assert (recovered.consecutive_failures, recovered.last_error) == (0, None)
    assert recovered.last_success_at == T0 + timedelta(hours=4)
