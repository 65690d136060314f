"""Three ``supportwatch run`` replicas on one PostgreSQL: one leads, a killed or hung leader is
replaced, and every alert and digest still goes out, once (at least once for the one message in
flight when a leader dies; DESIGN §5).

Real processes, a real PostgreSQL, a Slack-compatible webhook and an SMTP server, all on
127.0.0.1. The replicas run on the real clock; the findings are those of an agent whose
maintenance ended in 2026, so which ones exist does not depend on the day the test runs.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from replicas import (
    Loopback,
    Mailbox,
    Replica,
    loopback_http,
    migrate,
    smtp_sink,
    start_replica,
    stop_all,
    the_leader,
    wait_for,
    write_config,
)
from supportwatch.engine import create_engine_for


@pytest.fixture
def servers() -> Iterator[tuple[Loopback, Mailbox]]:
    with loopback_http(slack_delay=2.0) as loopback, smtp_sink() as mailbox:
        yield loopback, mailbox


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path, servers: tuple[Loopback, Mailbox]) -> Iterator[list[Replica]]:
    loopback, mailbox = servers
    config = write_config(tmp_path, postgres_url, loopback, mailbox)
    migrate(config)
    started = [start_replica(config, tmp_path, f"replica-{index}") for index in range(3)]
    try:
        yield started
    finally:
        stop_all(started)


def _settled(loopback: Loopback, mailbox: Mailbox, quiet: float = 3.0) -> None:
    """Wait until the digest went out and nothing else arrived for ``quiet`` seconds."""

    def digest_sent() -> bool:
        return any("digest" in item.get("Subject", "").lower() for item in mailbox.messages)

    wait_for(digest_sent, 60, "the weekly digest email")
    last = (-1, -1)
    while True:
        now = (len(loopback.slack), len(mailbox.messages))
        if now == last:
            return
        last = now
        time.sleep(quiet)


def _delivery_states(url: str) -> Counter[str]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return Counter(row[0] for row in conn.execute(text("SELECT state FROM delivery")))
    finally:
        engine.dispose()


def _duplicates(items: list[str]) -> int:
    return sum(count - 1 for count in Counter(items).values())


def test_a_killed_leader_is_replaced_and_nothing_is_lost_or_doubled(
    replicas: list[Replica], servers: tuple[Loopback, Mailbox], postgres_url: str
) -> None:
    loopback, mailbox = servers
    leader = the_leader(replicas)
    # killed while its Slack message is in flight: the webhook still takes it
    wait_for(lambda: bool(loopback.slack_arrivals), 60, "the leader sends its first alert")
    leader.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    leader.process.wait(timeout=10)

    # a follower takes over within the election interval (1 s here) and runs the jobs at once
    took = wait_for(lambda: bool(loopback.polls_after(killed_at)), 30, "a follower polls after the kill")
    assert took < 10
    successor = the_leader(replicas)
    assert successor is not leader
    _settled(loopback, mailbox)

    states = _delivery_states(postgres_url)
    assert set(states) == {"sent"}, states  # nothing claimed forever, retried or dead
    slack_texts = [str(item["body"]) for item in loopback.slack]
    # at least once: only the message in flight when the leader died may arrive twice
    assert _duplicates(slack_texts) <= 1
    ids = [item["Message-ID"] for item in mailbox.messages]
    assert _duplicates(ids) <= 1  # a re-sent email keeps its Message-ID: a client shows it once
    digests = {item["Message-ID"] for item in mailbox.messages if "digest" in item["Subject"].lower()}
    assert len(digests) == 1

    # another failover: the next leader runs every job again, and sends nothing twice
    before = (len(loopback.slack), len(mailbox.messages))
    successor.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: bool(loopback.polls_after(killed_at)), 30, "the third replica polls")
    third = the_leader(replicas)
    assert third not in (leader, successor)
    time.sleep(3)
    assert (len(loopback.slack), len(mailbox.messages)) == before
    assert set(_delivery_states(postgres_url)) == {"sent"}


def test_a_hung_leader_loses_its_lease_and_does_not_lead_when_it_wakes(
    replicas: list[Replica], servers: tuple[Loopback, Mailbox]
) -> None:
    loopback, mailbox = servers
    leader = the_leader(replicas)
    _settled(loopback, mailbox)
    sent = (len(loopback.slack), len(mailbox.messages))

    leader.signal(signal.SIGSTOP)  # hung, not dead: its connection stays open
    stopped_at = time.monotonic()
    # the lease is three elections (3 s here); then a follower leads and polls
    took = wait_for(lambda: bool(loopback.polls_after(stopped_at)), 30, "a follower polls after the hang")
    assert took >= 2.5  # not before the hung leader's lease ran out
    others = [replica for replica in replicas if replica is not leader]
    successor = the_leader(others)

    leader.signal(signal.SIGCONT)
    woke = leader.text()
    wait_for(lambda: "lost leadership" in leader.text()[len(woke) :], 15, "the woken leader steps down")
    time.sleep(2)
    assert [replica.leads() for replica in replicas].count(True) == 1
    assert successor.leads()
    assert (len(loopback.slack), len(mailbox.messages)) == sent  # nothing sent twice
