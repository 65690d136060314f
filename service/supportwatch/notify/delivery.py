"""The fixed delivery sequence: claim (insert-or-nothing) -> send with retry -> record.

Muting and planning happen before (``jobs.py``, ``plan.py``); this module only sees (target,
key) pairs and the delivery log (``log.py``).
A claimed row is sent, then marked ``sent``, ``retry`` (with its next attempt time) or
``dead`` (a permanent failure, or still failing after ``give_up_hours``). Rows due for a retry
and rows whose claimer died (lease expired) are taken over and sent from their stored payload,
so a message is never lost. Delivery is **at least once**: the unique (target, key) lets one
process claim a row at a time, but a process that dies after the server accepted a message and
before the outcome was recorded leaves the row claimed, and it is sent again after the lease.
A re-send carries the same keys as the first send (claims are grouped per target and per the
run that first claimed them), so an email re-send has the same Message-ID (``email.py``).

A failure on one target never stops the others: whatever a notifier raises is recorded as a
failed attempt of that delivery (retried; dead-lettered when permanent or too old) and logged
in one redacted line. Should the run itself stop (a database error, an interrupt), its claims
not yet settled are released for the next run instead of waiting out the lease.

Channels are sent to at once (a thread per channel sends its messages in order, paced by the
Slack rate limit; at most ``notify.parallel_channels`` sends are under way): a run takes about
as long as its busiest channel needs, not the sum of all. Only sending happens in those
threads; every database write stays in the calling thread. Notices that continue a thread whose
first message the target got (``log.thread_roots``) are sent as replies to it, grouped per
first message.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import Any, Protocol

from supportwatch.config import NotifySettings, redact_url
from supportwatch.errors import PermanentDeliveryError
from supportwatch.notify.base import KeyedNotifier, Outcome, redact
from supportwatch.notify.log import CLAIM_BATCH, Claim, Claimable, DeliveryKey, DeliveryLog
from supportwatch.notify.message import Message, Notice, Overview
from supportwatch.notify.payload import DigestPayload, NoticePayload, read_payload
from supportwatch.notify.plan import Outgoing
from supportwatch.notify.text import plain_text
from supportwatch.notify.wiring import Integration
from supportwatch.retry import backoff
from supportwatch.slices import slices

logger = logging.getLogger("supportwatch.notify.delivery")
_MAX_LANES = 256  # threads pacing channels (most of them sleep); sends at once: parallel_channels


@dataclass
class DeliveryReport:
    """What one run did: messages and keys delivered, failures (redacted), a dry run's preview.

    ``warnings`` name sends that went out incomplete (an SMTP server refused some recipients).
    """

    sent_messages: int = 0
    sent_keys: int = 0
    failures: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    preview: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.dead


@dataclass(frozen=True, slots=True)
class Batch:
    """One message for one integration, and the claims it settles.

    ``error`` is set when the claims' stored payloads could not be turned into a message: the
    batch is then dead-lettered with it instead of sent.
    """

    integration: Integration | None
    target: str
    message: Message
    claims: tuple[Claim, ...]
    error: str = ""

    @property
    def delivery_key(self) -> str:
        """The target and the keys this message settles: the same for every re-send of it."""
        return "\n".join([self.target, *sorted(str(claim.key) for claim in self.claims)])

    @property
    def channel(self) -> str:
        return self.integration.channel if self.integration is not None else self.target


class Threads(Protocol):
    """Where a target's threads began (``DeliveryLog`` is one; a preview has none)."""

    def thread_roots(self, target: str, threads: Sequence[str]) -> dict[str, str]: ...

    def message_payloads(self, target: str, external_id: str) -> list[dict[str, Any]]: ...


class NoThreads:
    """Nothing sent yet: every notice starts its thread."""

    def thread_roots(self, target: str, threads: Sequence[str]) -> dict[str, str]:
        return {}

    def message_payloads(self, target: str, external_id: str) -> list[dict[str, Any]]:
        return []


def make_batches(
    claims: Iterable[Claim], integrations: Mapping[str, Integration], threads: Threads
) -> list[Batch]:
    """Group claims into messages: a target's notices split as its integration needs; digests alone.

    Claims are grouped per target and per the run that first claimed them (``created_at``),
    so a message re-sent after a crash or a failure settles the same keys as the first try.
    Where the integration can reply in a thread, notices whose thread began in a message the
    target already got are grouped per such message and reply to it. A payload that cannot be
    read becomes a batch of its own carrying the error.
    """
    groups: dict[tuple[str, datetime], list[Claim]] = {}
    for claim in claims:
        groups.setdefault((claim.target, claim.created_at), []).append(claim)
    batches: list[Batch] = []
    for (target, _), items in groups.items():
        integration = integrations.get(target)
        receiver = target.partition("/")[0]
        notices: list[tuple[Claim, Notice]] = []
        for claim in items:
            try:
                payload = read_payload(claim.payload)
            except Exception as exc:
                error = f"its stored payload cannot be read ({type(exc).__name__})"
                batches.append(Batch(integration, target, Message(receiver), (claim,), error))
                continue
            if isinstance(payload, DigestPayload):
                message = Message(receiver, digest=payload.digest)
                batches.append(Batch(integration, target, message, (claim,)))
            elif isinstance(payload, NoticePayload):
                notices.append((claim, payload.notice))
        if notices:
            batches += _notice_batches(target, receiver, integration, notices, threads)
    return batches


def _notice_batches(
    target: str,
    receiver: str,
    integration: Integration | None,
    notices: list[tuple[Claim, Notice]],
    threads: Threads,
) -> list[Batch]:
    roots: dict[str, str] = {}
    if integration is not None and integration.threads:
        roots = threads.thread_roots(target, [notice.thread for _, notice in notices if notice.thread])
    lanes: dict[str | None, list[tuple[Claim, Notice]]] = {None: []}
    for item in notices:
        lanes.setdefault(roots.get(item[1].thread), []).append(item)
    batches: list[Batch] = []
    for root, members in lanes.items():
        if not members:
            continue
        claim_of = {id(notice): claim for claim, notice in members}
        values = [notice for _, notice in members]
        chunks = integration.split(values) if integration is not None else [tuple(values)]
        subject = _root_subject(threads, target, receiver, root) if root else None
        overview = Overview.of(values) if len(chunks) > 1 else None
        for index, chunk in enumerate(chunks, start=1):
            message = Message(
                receiver,
                notices=chunk,
                thread=root,
                thread_subject=subject,
                part=index,
                parts=len(chunks),
                overview=overview if index == 1 else None,
            )
            settled = tuple(claim_of[id(notice)] for notice in chunk)
            batches.append(Batch(integration, target, message, settled))
    return batches


def _root_subject(threads: Threads, target: str, receiver: str, root: str) -> str | None:
    """The subject of the message a thread began with (a reply repeats it after "Re:")."""
    notices = []
    for data in threads.message_payloads(target, root):
        try:
            payload = read_payload(data)
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(payload, NoticePayload):
            notices.append(payload.notice)
    return Message(receiver, notices=tuple(notices)).subject if notices else None


class Delivery:
    """Runs the sequence for a set of outgoing (target, key) pairs against the delivery log."""

    def __init__(
        self,
        log: DeliveryLog,
        integrations: Mapping[str, Integration],
        policy: NotifySettings,
        *,
        sleep: Callable[[float], None],
        secrets: Sequence[str] = (),
    ) -> None:
        self.log = log
        self.integrations = integrations
        self.policy = policy
        self.sleep = sleep
        self.secrets = list(secrets)

    def run(self, outgoing: Sequence[Outgoing], *, now: datetime, dry_run: bool = False) -> DeliveryReport:
        """Claim what is due, send it (grouped per target, channels at once), record each outcome."""
        if dry_run:
            return self.preview(outgoing, now=now)
        report = DeliveryReport()
        claims: list[Claim] = []
        settled: set[tuple[str, str]] = set()
        try:
            for claim in self.claim(outgoing, now=now):
                claims.append(claim)
            for batch, outcome, attempts in self._sent(self.batches(claims)):
                try:
                    self.record(batch, outcome, attempts, now=now, report=report)
                except Exception as exc:
                    # e.g. the database failed recording it: the next run resends (at least once)
                    line = f"{batch.target} {_keys(batch.claims)}: {self._describe(exc)}"
                    report.failures.append(line)
                    logger.error("delivery not recorded, released for the next run: %s", line)
                    self._release(batch.claims, now)
                settled.update((claim.target, str(claim.key)) for claim in batch.claims)
        finally:
            # the run stopped early (an interrupt, the database): nothing it claimed waits for the lease
            left = [claim for claim in claims if (claim.target, str(claim.key)) not in settled]
            if left:
                self._release(left, now)
        return report

    def claim(self, outgoing: Sequence[Outgoing], *, now: datetime) -> Iterator[Claim]:
        """Claim each outgoing (target, key) not logged yet (a transaction per ``CLAIM_BATCH``;
        a run stopped between two leaves the rest for the next run), then every row due again."""
        lease = self.policy.lease_seconds
        claimed: set[tuple[str, str]] = set()
        # a slice at a time: a fleet's outgoing never holds every encoded payload twice at once
        for chunk in slices(outgoing, CLAIM_BATCH):
            wanted = [
                Claimable(item.target, item.key, item.summary, item.payload.to_json(), item.thread)
                for item in chunk
            ]
            inserted = self.log.claim_many(wanted, now=now, lease_seconds=lease)
            for item in wanted:
                pair = (item.target, str(item.key))
                if pair in inserted and pair not in claimed:  # a key listed twice is claimed once
                    claimed.add(pair)
                    yield Claim(item.target, item.key, dict(item.payload), 0, now)
        yield from self.log.take_due(now=now, lease_seconds=lease)

    def _sent(self, batches: Sequence[Batch]) -> Iterator[tuple[Batch, Outcome, int]]:
        """Each batch with its outcome, as sends finish: a thread per channel sends its batches
        in order, pacing itself (Slack's rate limit) before it takes one of the
        ``parallel_channels`` places among the sends under way.

        Should a send raise what is not an ``Exception``, that channel stops, the others finish
        and are handed back, then it is raised again; should the caller stop (an interrupt), no
        channel starts another send.
        """
        lanes: dict[str, list[Batch]] = {}
        for batch in batches:
            lanes.setdefault(batch.channel, []).append(batch)
        if len(lanes) <= 1 or self.policy.parallel_channels <= 1:
            for batch in _interleaved(batches):
                outcome, attempts = self.send(batch)
                yield batch, outcome, attempts
            return
        done: queue.Queue[tuple[Batch, Outcome, int] | BaseException | None] = queue.Queue()
        stop = threading.Event()
        places = threading.Semaphore(self.policy.parallel_channels)

        def lane(items: list[Batch]) -> None:
            try:
                for batch in items:
                    if batch.integration is not None and batch.integration.pace is not None:
                        batch.integration.pace()
                    if stop.is_set():
                        return
                    with places:
                        outcome, attempts = self.send(batch)
                    done.put((batch, outcome, attempts))
            except BaseException as exc:  # handed to the calling thread, which raises it
                done.put(exc)  # the other channels finish what they send; the run then stops
            finally:
                done.put(None)

        raised: BaseException | None = None
        with ThreadPoolExecutor(min(len(lanes), _MAX_LANES), "notify-send") as pool:
            try:
                for items in lanes.values():
                    pool.submit(lane, items)
                finished = 0
                while finished < len(lanes):
                    item = done.get()
                    if item is None:
                        finished += 1
                    elif isinstance(item, BaseException):
                        raised = raised or item
                    else:
                        yield item
            finally:
                stop.set()  # the caller stopped early (or a lane raised): no new sends
        if raised is not None:
            raise raised

    def send(self, batch: Batch) -> tuple[Outcome, int]:
        """The batch's outcome and how many attempts it took (0: it could not be sent at all)."""
        if batch.error:
            return Outcome.permanent(batch.error), 0
        if batch.integration is None:
            return Outcome.permanent(f"target {batch.target!r} is no longer configured"), 0
        return self._attempt(batch.integration, batch.message, batch.delivery_key)

    def record(
        self, batch: Batch, outcome: Outcome, attempts: int, *, now: datetime, report: DeliveryReport
    ) -> None:
        """Mark the batch's claims sent, due for a retry (with backoff) or dead, and report it."""
        keys = [claim.key for claim in batch.claims]
        if outcome.ok:
            self.log.mark_sent(
                batch.target, keys, now=now, attempts=attempts, external_id=outcome.external_id or None
            )
            report.sent_messages += 1
            report.sent_keys += len(keys)
            if outcome.error:
                line = f"{batch.target} {_keys(batch.claims)}: {redact(outcome.error, self.secrets)}"
                report.warnings.append(line)
                logger.warning("delivered incompletely: %s", line)
            return
        error = " ".join(redact(outcome.error, self.secrets).split())  # one line in the log and the row
        give_up = timedelta(hours=self.policy.give_up_hours)
        for claim in batch.claims:
            next_at = None
            if outcome.retryable and now < claim.created_at + give_up:
                delay = backoff(claim.attempts + attempts, self.policy.retry_backoff_seconds, 3600.0)
                next_at = now + timedelta(seconds=max(delay, outcome.retry_after or 0.0))
            self.log.mark_failed(
                batch.target, [claim.key], error=error, next_attempt_at=next_at, attempts=attempts
            )
            line = f"{batch.target} {claim.key}: {error}"
            if next_at is None:
                report.dead.append(line)
                logger.error("delivery dead-lettered: %s", line)
            else:
                report.failures.append(f"{line} (retry at {next_at.isoformat()})")
                logger.warning("delivery failed, will retry at %s: %s", next_at.isoformat(), line)

    def _release(self, claims: Sequence[Claim], now: datetime) -> None:
        """Best effort: make ``claims`` due again now (the database may be what failed)."""
        by_target: dict[str, list[Claim]] = {}
        for claim in claims:
            by_target.setdefault(claim.target, []).append(claim)
        for target, items in by_target.items():
            try:
                self.log.mark_failed(
                    target,
                    [claim.key for claim in items],
                    error="the run stopped before this was recorded",
                    next_attempt_at=now,
                    attempts=0,
                )
            except Exception as exc:
                logger.error(
                    "could not release %s claim(s) of %s; they are retried after the lease: %s",
                    len(items),
                    target,
                    self._describe(exc),
                )

    def _describe(self, exc: BaseException) -> str:
        """One log-safe line: the exception's type and first line, secrets and URL passwords masked."""
        lines = str(exc).splitlines()
        text = redact_url(redact(lines[0] if lines else "", self.secrets))[:300]
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def preview(self, outgoing: Sequence[Outgoing], *, now: datetime) -> DeliveryReport:
        """What ``run`` would send now, without claiming or sending anything."""
        by_target: dict[str, list[Outgoing]] = {}
        for item in outgoing:
            by_target.setdefault(item.target, []).append(item)
        claims: list[Claim] = []
        for target, items in by_target.items():
            logged = self.log.logged(target, [item.key for item in items])
            claims += [
                Claim(target, item.key, item.payload.to_json(), 0, now)
                for item in items
                if item.key not in logged
            ]
        claims += [
            Claim(r.target, DeliveryKey.parse(r.key), r.payload, r.attempts, r.created_at)
            for r in self.log.pending(now=now)
        ]
        report = DeliveryReport()
        for batch in self.batches(claims):
            if batch.error:
                text = f"(would be dead-lettered: {batch.error})"
            else:
                text = redact(f"{batch.message.subject}\n{plain_text(batch.message)}", self.secrets)
            report.preview.append((batch.target, text))
        return report

    def batches(self, claims: Iterable[Claim]) -> list[Batch]:
        """``make_batches`` against this log's threads."""
        return make_batches(claims, self.integrations, self.log)

    def _attempt(self, integration: Integration, message: Message, delivery_key: str) -> tuple[Outcome, int]:
        """Send with in-run retries for retryable failures; waits longer than the cap defer to a later run."""
        attempts = 0
        while True:
            outcome = self._send_once(integration, message, delivery_key)
            attempts += 1
            if outcome.ok or not outcome.retryable or attempts >= self.policy.attempts_per_run:
                return outcome, attempts
            wait = max(
                outcome.retry_after or 0.0,
                backoff(attempts, self.policy.retry_backoff_seconds, self.policy.retry_backoff_max_seconds),
            )
            if wait > self.policy.retry_backoff_max_seconds:
                return outcome, attempts
            self.sleep(wait)

    def _send_once(self, integration: Integration, message: Message, delivery_key: str) -> Outcome:
        """One send; an exception (a notifier breaking its contract) becomes a failed ``Outcome``.

        ``PermanentDeliveryError`` is permanent; anything else is retried (and dead-lettered
        once ``give_up_hours`` have passed). The text is one line, redacted by the caller.
        """
        notifier = integration.notifier
        try:
            if isinstance(notifier, KeyedNotifier):
                return notifier.send_keyed(message, delivery_key)
            return notifier.send(message)
        except PermanentDeliveryError as exc:
            return Outcome.permanent(f"{integration.target}: {self._describe(exc)}")
        except Exception as exc:
            # no traceback, even at DEBUG: it would quote what the notifier held (a webhook URL)
            return Outcome.retry(f"{integration.target} notifier raised {self._describe(exc)}")


def _keys(claims: Sequence[Claim]) -> str:
    return ", ".join(str(claim.key) for claim in claims)


def _interleaved(batches: Sequence[Batch]) -> Iterator[Batch]:
    # round-robin over channels: each channel's rate limit then overlaps with the others' sends
    by_channel: dict[str, list[Batch]] = {}
    for batch in batches:
        by_channel.setdefault(batch.channel, []).append(batch)
    for layer in zip_longest(*by_channel.values()):
        yield from (batch for batch in layer if batch is not None)
