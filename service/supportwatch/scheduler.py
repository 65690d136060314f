"""The service's jobs on APScheduler 3.x, run only while this process leads (DESIGN §5).

Jobs are rebuilt from the config at every start (in-memory job store; APScheduler's persistent
stores must not be shared between processes): one ``poll:<source>`` job per polled source at
its ``interval_minutes``, ``notify`` every ``schedule.notify_minutes`` and ``digest`` every
``schedule.digest_check_minutes``. Each job is one ``Service`` method, so a job and its CLI
command share one code path, and each runs once as soon as this process starts leading: a
digest missed while down goes out late. A failing job is logged and runs again next time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from supportwatch.config import redact_url
from supportwatch.sources.wiring import is_polled
from supportwatch.wording import count

if TYPE_CHECKING:
    from supportwatch.leader import Leader
    from supportwatch.notify.delivery import DeliveryReport
    from supportwatch.service import Service

logger = logging.getLogger("supportwatch.scheduler")

Clock = Callable[[], datetime]

# a job that asks to run again sooner waits at least this (and at most its own interval)
MIN_RERUN = timedelta(seconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One recurring job: ``run(now)`` every ``every``, first as soon as leadership begins.

    ``run`` may return when it wants to run again before its interval (a delivery retry falls
    due, or the claim of a replica that died while sending expires); None otherwise.
    """

    id: str
    every: timedelta
    run: Callable[[datetime], datetime | None]


def job_specs(service: Service) -> list[JobSpec]:
    """The jobs the config asks for, in the order they first run: polls, notify, digest."""
    settings = service.settings
    specs = [
        JobSpec(
            f"poll:{source.name}", timedelta(minutes=source.interval_minutes), _poll(service, source.name)
        )
        for source in settings.sources
        if source.enabled and is_polled(source)
    ]
    schedule = settings.schedule
    specs.append(JobSpec("notify", timedelta(minutes=schedule.notify_minutes), _notify(service)))
    specs.append(JobSpec("digest", timedelta(minutes=schedule.digest_check_minutes), _digest(service)))
    return specs


def _poll(service: Service, name: str) -> Callable[[datetime], datetime | None]:
    def run(now: datetime) -> None:
        for outcome in service.poll(now, only=name):
            if outcome.failed:
                logger.warning(
                    "poll %s %s: %s",
                    outcome.source,
                    outcome.status,
                    outcome.error,
                    extra={"source": outcome.source, "job": f"poll:{outcome.source}"},
                )
            else:
                logger.info(
                    "poll %s: %d new, %d changed",
                    outcome.source,
                    outcome.new,
                    outcome.changed,
                    extra={"source": outcome.source, "job": f"poll:{outcome.source}"},
                )

    return run


def _notify(service: Service) -> Callable[[datetime], datetime | None]:
    def run(now: datetime) -> datetime | None:
        _log_delivery("notify", service.notify(now))
        return service.next_delivery_due(now)

    return run


def _digest(service: Service) -> Callable[[datetime], datetime | None]:
    def run(now: datetime) -> datetime | None:
        _log_delivery("digest", service.digest(now, scheduled=True))
        return service.next_delivery_due(now)

    return run


def _log_delivery(job: str, report: DeliveryReport) -> None:
    if report.sent_messages:
        logger.info(
            "%s: sent %s covering %s",
            job,
            count(report.sent_messages, "message"),
            count(report.sent_keys, "notice"),
        )
    for line in report.failures:
        logger.warning("%s failed, will retry: %s", job, line, extra={"job": job})
    for line in report.dead:
        logger.error("%s failed for good (dead-lettered): %s", job, line, extra={"job": job})
    for line in report.warnings:
        logger.warning("%s sent, but not to everyone: %s", job, line, extra={"job": job})


def describe_error(exc: BaseException) -> str:
    """One log-safe line: the type and the first line of the message, URLs' passwords masked."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {redact_url(first)[:500]}"


class Scheduler:
    """The background scheduler: elects a leader, then runs the jobs while it leads.

    ``start()`` tries to lead once (errors propagate: a locked SQLite database stops ``run``),
    then retries every ``schedule.leader_retry_seconds``; winning schedules the jobs, losing
    (a dead PostgreSQL session) unschedules them. Jobs run one at a time on one worker thread:
    ``Service`` is shared by every job, and SQLite has one writer anyway.
    """

    def __init__(
        self,
        service: Service,
        leader: Leader,
        *,
        clock: Clock = utc_now,
        jobs: Sequence[JobSpec] | None = None,
    ) -> None:
        self.service = service
        self.leader = leader
        self.clock = clock
        self.specs = list(jobs) if jobs is not None else job_specs(service)
        self.leading = False
        self._running: dict[str, int] = {}
        self._idle = threading.Condition()
        self._stopping = threading.Event()
        self.aps = BackgroundScheduler(
            timezone=service.settings.tz,
            executors={"default": ThreadPoolExecutor(1), "election": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    def start(self) -> None:
        """Lead if possible, schedule the jobs or the retries, and start the scheduler thread."""
        self._lead(self.leader.acquire())
        retry = self.service.settings.schedule.leader_retry_seconds
        self.aps.add_job(
            self.elect,
            IntervalTrigger(seconds=retry, timezone=self.service.settings.tz),
            id="leader-election",
            executor="election",
            misfire_grace_time=int(retry),
        )
        self.aps.start()
        if not self.leading:
            logger.info(
                "another replica leads (%s held elsewhere); serving HTTP, retrying every %g s",
                self.leader.description,
                retry,
            )

    def shutdown(self, *, wait_seconds: float = 10.0) -> None:
        """Stop scheduling, wait up to ``wait_seconds`` for a running job, release leadership."""
        self._stopping.set()  # jobs already queued in the executor must not start any more
        if self.aps.running:
            self.aps.shutdown(wait=False)
        with self._idle:
            if not self._idle.wait_for(lambda: not self._running, timeout=wait_seconds):
                logger.warning("stopping while job(s) %s still run", ", ".join(sorted(self._running)))
        self.leader.release()
        self.leading = False

    def schedule_jobs(self) -> None:
        """Add every job, each first due now (in spec order), then at its interval.

        APScheduler schedules on the real clock; the injected ``clock`` only supplies the
        ``now`` each job receives, so a test clock fixed in the past cannot stall the jobs.
        """
        now = utc_now()
        tz = self.service.settings.tz
        for order, spec in enumerate(self.specs):
            self.aps.add_job(
                self.run_job,
                IntervalTrigger(seconds=spec.every.total_seconds(), timezone=tz),
                args=[spec],
                id=spec.id,
                name=spec.id,
                coalesce=True,
                max_instances=1,
                # later than a whole interval: the next run does the same work
                misfire_grace_time=max(1, int(spec.every.total_seconds())),
                next_run_time=now + timedelta(milliseconds=order),
                replace_existing=True,
            )

    def unschedule_jobs(self) -> None:
        for spec in self.specs:
            for job_id in (spec.id, f"{spec.id}:again"):
                if self.aps.get_job(job_id) is not None:
                    self.aps.remove_job(job_id)

    def run_job(self, spec: JobSpec) -> None:
        """Run one job now; any exception is logged (never with a secret) and swallowed."""
        if self._stopping.is_set():
            logger.info("job %s skipped: stopping", spec.id)
            return
        if not self._still_leading():
            logger.info("job %s skipped: this replica no longer leads", spec.id)
            return
        with self._tracking(spec.id):
            now = self.clock()
            try:
                again = spec.run(now)
            except Exception as exc:
                logger.error(
                    "job %s failed: %s; it runs again in %s", spec.id, describe_error(exc), spec.every
                )
                logger.debug("job %s traceback", spec.id, exc_info=True)
                return
        if again is not None:
            self._run_again(spec, again - now)

    def _run_again(self, spec: JobSpec, delay: timedelta) -> None:
        """Run ``spec`` once more after ``delay``, unless its next run comes sooner anyway."""
        delay = min(max(delay, MIN_RERUN), spec.every)
        # on the real clock, like every job: the injected clock only supplies ``now``
        at = utc_now() + delay
        scheduled = self.aps.get_job(spec.id)
        if scheduled is None or (scheduled.next_run_time is not None and scheduled.next_run_time <= at):
            return
        self.aps.add_job(
            self.run_job,
            DateTrigger(run_date=at),
            args=[spec],
            id=f"{spec.id}:again",
            name=f"{spec.id}:again",
            misfire_grace_time=max(1, int(spec.every.total_seconds())),
            replace_existing=True,
        )
        logger.debug("job %s runs again in %s", spec.id, delay)

    def elect(self) -> None:
        """Try to lead once more (the periodic election job); a failure counts as not leading."""
        try:
            leading = self.leader.acquire()
        except Exception as exc:
            logger.warning("leader election (%s) failed: %s", self.leader.description, describe_error(exc))
            leading = False
        self._lead(leading)

    def _still_leading(self) -> bool:
        # a leader that was stopped (SIGSTOP, a frozen VM) may wake up to jobs that fell due while
        # its lease ran out and another replica took over: ask the lock before each job
        self.elect()
        return self.leading

    def _lead(self, leading: bool) -> None:
        if leading and not self.leading:
            logger.info("leading (%s): scheduling %d job(s)", self.leader.description, len(self.specs))
            self.schedule_jobs()
        elif self.leading and not leading:
            logger.warning("lost leadership (%s): jobs stop until it is won back", self.leader.description)
            self.unschedule_jobs()
        self.leading = leading

    @contextmanager
    def _tracking(self, job_id: str) -> Iterator[None]:
        with self._idle:
            self._running[job_id] = self._running.get(job_id, 0) + 1
        try:
            yield
        finally:
            with self._idle:
                self._running[job_id] -= 1
                if not self._running[job_id]:
                    del self._running[job_id]
                self._idle.notify_all()
