"""The scheduler's jobs and the leader lock, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from supportwatch.config import Settings, load_settings
from supportwatch.engine import create_engine_for
from supportwatch.errors import ConfigError, SchedulerLocked
from supportwatch.leader import FileLeader, PostgresLeader, leader_for
from supportwatch.notify.delivery import DeliveryReport
from supportwatch.notify.log import DeliveryKey, DeliveryLog
from supportwatch.scheduler import JobSpec, Scheduler
from supportwatch.service import Service

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


class StubLeader:
    """Leads when told to; counts releases."""

    description = "stub lock"

    def __init__(self, leading: bool = True) -> None:
        self.leading = leading
        self.released = 0

    def acquire(self) -> bool:
        return self.leading

    def release(self) -> None:
        self.released += 1


def settings_for(url: str, **extra: Any) -> Settings:
    return Settings.model_validate({"database_url": url, **extra})


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    opened = Service.open(settings_for(sqlite_url, timezone="Europe/Berlin"))
    yield opened
    opened.close()


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.01)


# --- jobs from config ---------------------------------------------------------------------


def test_jobs_are_built_from_the_config(sqlite_url: str) -> None:
    settings = settings_for(
        sqlite_url,
        timezone="Europe/Berlin",
        schedule={"notify_minutes": 5, "digest_check_minutes": 30},
        sources=[
            {"name": "pinned", "kind": "static"},
            {
                "name": "chart-index",
                "kind": "helm",
                "url": "https://example.com/index.yaml",
                "interval_minutes": 20,
            },
            {"name": "notes", "kind": "feed", "url": "https://example.com/rss.xml", "enabled": False},
            {"name": "agent-versions", "kind": "astro_updates", "url": "https://example.com/agent"},
        ],
    )
    opened = Service.open(settings)
    try:
        scheduler = Scheduler(opened, StubLeader(), clock=lambda: NOW)
        before = datetime.now(UTC)
        scheduler.schedule_jobs()  # not started: no threads
        after = datetime.now(UTC)
        jobs = {job.id: job for job in scheduler.aps.get_jobs()}
        assert list(jobs) == ["poll:chart-index", "poll:agent-versions", "notify", "digest"]
        assert {key: job.trigger.interval for key, job in jobs.items()} == {
            "poll:chart-index": timedelta(minutes=20),
            "poll:agent-versions": timedelta(minutes=60),
            "notify": timedelta(minutes=5),
            "digest": timedelta(minutes=30),
        }
        assert all(job.trigger.timezone == ZoneInfo("Europe/Berlin") for job in jobs.values())
        assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
        assert jobs["notify"].misfire_grace_time == 300
        # every job is first due at once on the real clock (never the injected one), polls first
        due = [job.next_run_time for job in jobs.values()]
        assert due == sorted(due)
        assert all(before <= when <= after + timedelta(seconds=1) for when in due)
        assert scheduler.aps.timezone == ZoneInfo("Europe/Berlin")
    finally:
        opened.close()


def test_schedule_defaults_and_key_path_errors(tmp_path: Path) -> None:
    schedule = Settings().schedule
    assert (schedule.notify_minutes, schedule.digest_check_minutes, schedule.leader_retry_seconds) == (
        15,
        60,
        10,  # a follower takes over within 10 s of a leader's death
    )
    config = tmp_path / "c.yaml"
    config.write_text("schedule: {notify_minutes: 0}\n")
    with pytest.raises(ConfigError, match=r"^schedule\.notify_minutes: .*\(got 0\)"):
        load_settings(config)
    config.write_text("schedule: {every: 5}\n")
    with pytest.raises(ConfigError, match=r"^schedule\.every: unknown key"):
        load_settings(config)


def test_a_failing_job_is_logged_without_secrets_and_runs_again(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[datetime] = []
    again = threading.Event()

    def flaky(now: datetime) -> None:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("cannot reach postgresql://sw:hunter2@db.internal/sw")
        again.set()

    leader = StubLeader()
    scheduler = Scheduler(
        service, leader, clock=lambda: NOW, jobs=[JobSpec("flaky", timedelta(seconds=0.05), flaky)]
    )
    with caplog.at_level(logging.INFO, logger="supportwatch.scheduler"):
        scheduler.start()
        try:
            assert again.wait(5), "the job did not run again after failing"
        finally:
            scheduler.shutdown(wait_seconds=5)
    assert calls[:2] == [NOW, NOW]
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert failures
    assert failures[0].startswith(
        "job flaky failed: RuntimeError: cannot reach postgresql://sw:***@db.internal"
    )
    assert "hunter2" not in caplog.text
    assert leader.released == 1
    assert not scheduler.aps.running


def test_a_job_queued_behind_a_running_one_does_not_start_after_shutdown(service: Service) -> None:
    started, release = threading.Event(), threading.Event()
    second: list[datetime] = []

    def slow(now: datetime) -> None:
        started.set()
        release.wait(5)

    jobs = [JobSpec("slow", timedelta(hours=1), slow), JobSpec("second", timedelta(hours=1), second.append)]
    leader = StubLeader()
    scheduler = Scheduler(service, leader, clock=lambda: NOW, jobs=jobs)
    scheduler.start()
    assert started.wait(5)
    time.sleep(0.2)  # "second" is now due and queued behind "slow" on the one worker
    scheduler.shutdown(wait_seconds=0.1)
    release.set()
    time.sleep(0.3)
    assert second == []  # the process is stopping and has given up its lock: no new work
    assert leader.released == 1


def test_the_digest_runs_at_start_up_with_the_injected_clock(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests: list[tuple[datetime, bool]] = []
    ran = threading.Event()

    def digest(now: datetime, *, scheduled: bool = False, **_: Any) -> DeliveryReport:
        digests.append((now, scheduled))
        ran.set()
        return DeliveryReport()

    monkeypatch.setattr(service, "digest", digest)
    monkeypatch.setattr(service, "notify", lambda now, **_: DeliveryReport())
    scheduler = Scheduler(service, StubLeader(), clock=lambda: NOW)
    scheduler.start()
    try:
        assert ran.wait(5), "no digest at start-up"
    finally:
        scheduler.shutdown(wait_seconds=5)
    assert digests == [(NOW, True)]


def test_a_follower_schedules_nothing_until_it_wins_and_stops_when_it_loses(service: Service) -> None:
    leader = StubLeader(leading=False)
    scheduler = Scheduler(service, leader, clock=lambda: NOW)
    scheduler.start()
    try:
        assert {job.id for job in scheduler.aps.get_jobs()} == {"leader-election"}
        leader.leading = True
        scheduler.elect()
        assert {job.id for job in scheduler.aps.get_jobs()} >= {"notify", "digest", "leader-election"}
        leader.leading = False
        scheduler.elect()
        assert {job.id for job in scheduler.aps.get_jobs()} == {"leader-election"}
    finally:
        scheduler.shutdown(wait_seconds=5)


# --- SQLite: one scheduler per database file ------------------------------------------------


def test_sqlite_refuses_a_second_scheduler_on_the_same_file(sqlite_url: str, tmp_path: Path) -> None:
    first, second = leader_for(sqlite_url), leader_for(sqlite_url)
    assert isinstance(first, FileLeader)
    assert first.path == tmp_path / "supportwatch.db.scheduler.lock"
    try:
        assert first.acquire()
        assert first.acquire()  # idempotent
        with pytest.raises(SchedulerLocked) as refused:
            second.acquire()
        assert str(first.path) in str(refused.value)
        assert f"pid {os.getpid()}" in str(refused.value)
        other = leader_for(f"sqlite:///{tmp_path / 'other.db'}")
        assert other.acquire()  # a different database is fine
        other.release()
        first.release()
        assert second.acquire()  # released: the next one may lead
    finally:
        first.release()
        second.release()


def test_in_memory_sqlite_cannot_be_served() -> None:
    with pytest.raises(ConfigError, match=r"^database_url: an in-memory SQLite"):
        leader_for("sqlite://")


# --- PostgreSQL: an advisory lock on a dedicated connection ----------------------------------


def _acquire_within(leader: PostgresLeader, timeout: float = 5.0) -> None:
    # pg_terminate_backend returns before the backend has exited and dropped its locks
    wait_until(leader.acquire, timeout)


def test_postgres_exactly_one_leader_and_a_dead_leaders_lock_is_released(postgres_url: str) -> None:
    first, second = leader_for(postgres_url), leader_for(postgres_url)
    assert isinstance(first, PostgresLeader) and isinstance(second, PostgresLeader)
    admin = create_engine_for(postgres_url)
    try:
        assert first.acquire()
        assert not second.acquire()
        assert first.acquire()  # still leading, still one leader
        assert not second.acquire()
        # the leader dies: its session goes, and the lock with it
        with admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE 'supportwatch-leader%'"
                )
            ).all()
        assert killed == [(True,)]
        _acquire_within(second)
        assert not first.acquire()  # notices its dead session, reconnects, and follows
        second.release()
        assert first.acquire()  # a graceful release hands over on the next try
        assert not second.acquire()
    finally:
        first.release()
        second.release()
        admin.dispose()


def test_a_hung_postgres_leader_loses_its_lock_after_the_lease(postgres_url: str) -> None:
    # a stopped process keeps its TCP connection (the kernel answers keepalives), so only the
    # lease ends its session: nothing is asked on it for longer than lease_seconds
    hung = leader_for(postgres_url, lease_seconds=1)
    follower = leader_for(postgres_url, lease_seconds=1)
    assert isinstance(hung, PostgresLeader) and isinstance(follower, PostgresLeader)
    try:
        assert hung.acquire()
        assert not follower.acquire()
        time.sleep(0.5)
        assert hung.acquire()  # a live leader's check renews the lease
        assert not follower.acquire()
        started = time.monotonic()
        _acquire_within(follower, timeout=10)
        assert time.monotonic() - started >= 0.4  # not before the lease ran out
        assert not hung.acquire()  # waking up, it finds its session ended and follows
    finally:
        hung.release()
        follower.release()


def test_a_job_is_skipped_by_a_replica_that_no_longer_leads(service: Service) -> None:
    runs: list[datetime] = []
    leader = StubLeader(leading=True)
    scheduler = Scheduler(
        service, leader, clock=lambda: NOW, jobs=[JobSpec("notify", timedelta(hours=1), runs.append)]
    )
    scheduler._lead(True)
    try:
        [spec] = scheduler.specs
        scheduler.run_job(spec)
        assert runs == [NOW]
        leader.leading = False  # the lease ran out while the process was stopped
        scheduler.run_job(spec)
        assert runs == [NOW]
        assert not scheduler.leading
        assert scheduler.aps.get_job("notify") is None
    finally:
        scheduler.shutdown(wait_seconds=1)


def test_the_delivery_log_says_when_the_next_retry_or_expired_claim_falls_due(engine: Engine) -> None:
    log = DeliveryLog(engine)
    assert log.next_due(now=NOW) is None
    key = DeliveryKey.finding("end_of_maintenance:prod:agent-1.3")
    assert log.claim("platform/slack", key, now=NOW, lease_seconds=600, summary="s", payload={})
    # a claim held by a sender that may have died: due when its lease ends
    assert log.next_due(now=NOW) == NOW + timedelta(seconds=600)
    other = DeliveryKey.finding("floating_tag:prod:3.1-9")
    assert log.claim("platform/email", other, now=NOW, lease_seconds=600, summary="s", payload={})
    log.mark_failed("platform/email", [other], error="HTTP 503", next_attempt_at=NOW + timedelta(seconds=30))
    due = log.next_due(now=NOW)
    assert due == NOW + timedelta(seconds=30)
    assert due is not None and due.tzinfo is not None  # aware UTC on every backend
    log.mark_sent("platform/slack", [key], now=NOW)
    log.mark_sent("platform/email", [other], now=NOW)
    assert log.next_due(now=NOW) is None


def test_a_job_that_asks_to_run_again_sooner_is_run_again(service: Service) -> None:
    runs: list[datetime] = []
    done = threading.Event()

    def notify(now: datetime) -> datetime | None:
        runs.append(now)
        if len(runs) == 2:
            done.set()
            return None
        return now + timedelta(seconds=1)  # a retry falls due in a second

    scheduler = Scheduler(
        service, StubLeader(), clock=lambda: NOW, jobs=[JobSpec("notify", timedelta(hours=1), notify)]
    )
    scheduler.start()
    try:
        assert done.wait(10), runs
        assert runs == [NOW, NOW]
        assert scheduler.aps.get_job("notify:again") is None  # a one-off: gone once run
        assert scheduler.aps.get_job("notify") is not None
    finally:
        scheduler.shutdown(wait_seconds=1)
