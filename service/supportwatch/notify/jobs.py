"""The two notification jobs, ``notify`` and ``digest``, over evaluated reports.

``Service`` gathers the inputs (reports, releases, data health) and calls these. A notify run is
Alertmanager's fixed sequence: record the findings' episodes, mute (acks), plan what is due
(pure, ``plan.py``), then claim, send and record (``delivery.py``) against the delivery log.

Data health (``source_stale``, ``date_conflict``) is notified like any finding when the caller
passes it (``health``): to the data-health receiver, once per episode, resolved when it clears.
A run without ``health`` leaves the data-health findings' state as it was. A digest goes to
every target of its receiver (``Router.digest_targets``), once per ISO week each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from supportwatch.checks import DeploymentReport
from supportwatch.config import Settings
from supportwatch.errors import ConfigError
from supportwatch.notify.delivery import Delivery, DeliveryReport
from supportwatch.notify.digest import DigestInputs, build_digest, due_week, iso_week
from supportwatch.notify.episodes import Episodes, FindingState, Seen
from supportwatch.notify.log import DeliveryKey, DeliveryLog, DeliveryRecord, DeliveryState
from supportwatch.notify.message import HEALTH_KINDS, Notice, deployment_url, family
from supportwatch.notify.payload import DigestPayload, read_payload
from supportwatch.notify.plan import Outgoing, fired_keys, firing, resolved_notices
from supportwatch.notify.silences import Silences, muted
from supportwatch.notify.wiring import NotifyRuntime, build_integrations, public_url, router, secrets
from supportwatch.values import Finding, Release


class Notifications:
    """Notify and digest runs for one settings tree, one database and one injected runtime."""

    def __init__(self, settings: Settings, engine: Engine, runtime: NotifyRuntime | None = None) -> None:
        self.settings = settings
        self.log = DeliveryLog(engine)
        self.silences = Silences(engine)
        self.episodes = Episodes(engine)
        self.runtime = runtime or NotifyRuntime()
        self.router = router(settings)

    def _delivery(self) -> Delivery:
        return Delivery(
            self.log,
            build_integrations(self.settings, self.runtime),
            self.settings.notify,
            sleep=self.runtime.sleep,
            secrets=secrets(self.settings),
        )

    def notify(
        self,
        reports: Sequence[DeploymentReport],
        *,
        now: datetime,
        dry_run: bool = False,
        health: Sequence[Finding] | None = None,
    ) -> DeliveryReport:
        """Deliver every due notice once: new facts, critical repeats, resolutions, pending retries.

        ``health`` (``Service.health_findings(now)``) adds the data-health findings; None leaves
        their state untouched (nothing about them is known this run)."""
        states = self.sync(reports, now=now, commit=not dry_run, health=health)
        silenced = muted(self.silences.acks(), now)
        outgoing = self.plan(reports, states, muted=silenced, now=now, health=health or ())
        return self._delivery().run(outgoing, now=now, dry_run=dry_run)  # claim, send, record

    def sync(
        self,
        reports: Sequence[DeploymentReport],
        *,
        now: datetime,
        commit: bool,
        health: Sequence[Finding] | None = None,
    ) -> dict[str, FindingState]:
        """Record this run's findings; ended ones become resolved (or superseded: nothing fixed).

        Data-health findings are recorded when ``health`` is given, else left as they are."""
        findings = [finding for report in reports for finding in report.findings]
        live = {report.deployment.name for report in reports}
        families = {(f.deployment, family(f.kind.value)) for f in findings}

        def superseded(state: FindingState) -> bool:
            if state.kind in HEALTH_KINDS:
                return False  # a source that recovers resolves its finding
            return state.deployment not in live or (state.deployment, family(state.kind)) in families

        def untouched(state: FindingState) -> bool:
            return health is None and state.kind in HEALTH_KINDS

        current = [
            Seen(f.dedup_key, f.kind.value, f.severity.value, f.deployment, f.team, Notice.of(f).to_payload())
            for f in [*findings, *(health or ())]
        ]
        return self.episodes.sync_findings(
            current, now=now, superseded=superseded, commit=commit, keep=untouched
        )

    def plan(
        self,
        reports: Sequence[DeploymentReport],
        states: dict[str, FindingState],
        *,
        muted: frozenset[str],
        now: datetime,
        health: Sequence[Finding] = (),
    ) -> list[Outgoing]:
        """What is due now: the firing findings not muted (data health too), then the resolutions."""
        by_name = {report.deployment.name: report for report in reports}
        outgoing = firing(
            [*health, *(finding for report in reports for finding in report.findings)],
            router=self.router,
            first_seen={key: state.first_seen_at for key, state in states.items()},
            episodes={key: state.episode for key, state in states.items()},
            now=now,
            repeat_days=self.settings.notify.repeat_interval_days,
            muted=muted,
            reports=by_name,
            public_url=public_url(self.settings),
        )
        return outgoing + self._resolved(now, by_name)

    def _resolved(self, now: datetime, reports: dict[str, DeploymentReport]) -> list[Outgoing]:
        repeat_days = self.settings.notify.repeat_interval_days
        states = self.episodes.finding_states(resolved_since=now - timedelta(days=repeat_days))
        keys = {state.dedup_key: fired_keys(state, repeat_days) for state in states}
        by_target: dict[str, list[tuple[str, Outgoing]]] = {}
        resolved = resolved_notices(
            states, router=self.router, reports=reports, public_url=public_url(self.settings)
        )
        for target, dedup_key, outgoing in resolved:
            by_target.setdefault(target, []).append((dedup_key, outgoing))
        result: list[Outgoing] = []
        for target, items in by_target.items():
            fired = self.log.sent_keys(target, [k for key, _ in items for k in keys[key]])
            result += [outgoing for key, outgoing in items if fired.intersection(keys[key])]
        return result

    def digest_week(self, now: datetime, *, scheduled: bool) -> str:
        """The week a digest run covers: ``now``'s week, or (scheduled) the latest one now due."""
        tz = self.settings.tz
        if not scheduled:
            return iso_week(now.astimezone(tz).date())
        return due_week(
            now, weekday=self.settings.notify.digest_weekday, hour=self.settings.notify.digest_hour, tz=tz
        )

    def digest(
        self,
        reports: Sequence[DeploymentReport],
        *,
        releases: Sequence[Release],
        health: Sequence[Finding],
        now: datetime,
        receiver: str | None = None,
        dry_run: bool = False,
        scheduled: bool = False,
    ) -> DeliveryReport:
        """One digest per receiver for the week (``DeliveryKey.digest``); already sent: nothing."""
        week = self.digest_week(now, scheduled=scheduled)
        receivers = self.router.receivers({report.deployment.team for report in reports})
        if receiver is not None:
            if receiver not in self.router.kinds:
                known = ", ".join(sorted(self.router.kinds))
                raise ConfigError("--receiver", f"{receiver!r} is not a receiver; known: {known}")
            receivers = [receiver]
        self.sync(reports, now=now, commit=not dry_run, health=health)
        key = DeliveryKey.digest(week)
        due: list[tuple[str, list[DeploymentReport], str, DeliveryRecord | None]] = []
        for name in receivers:
            routed = [r for r in reports if self.router.receiver(r.deployment.team) == name]
            for target in self.router.digest_targets(name):
                if key not in self.log.logged(target, [key]):
                    due.append((name, routed, target, self.log.last_sent_digest(target)))
        if not due:
            return self._delivery().run([], now=now, dry_run=dry_run)
        # the finding history is read once, from the earliest window any target covers
        earliest = min(_window(last, now) for *_, last in due)
        history = History(
            opened=self.episodes.finding_states(opened_since=earliest),
            ended=self.episodes.finding_states(resolved_since=earliest),
            dead=self.log.records(state=DeliveryState.DEAD),
        )
        outgoing = [
            self._digest_outgoing(
                receiver=name,
                target=target,
                last=last,
                week=week,
                reports=routed,
                releases=releases,
                health=health,
                history=history,
                now=now,
            )
            for name, routed, target, last in due
        ]
        return self._delivery().run(outgoing, now=now, dry_run=dry_run)

    def _digest_outgoing(
        self,
        *,
        receiver: str,
        target: str,
        last: DeliveryRecord | None,
        week: str,
        reports: Sequence[DeploymentReport],
        releases: Sequence[Release],
        health: Sequence[Finding],
        history: History,
        now: datetime,
    ) -> Outgoing:
        since = last.sent_at if last is not None else None
        window = _window(last, now)
        names = {report.deployment.name for report in reports}
        opened = history.opened_since(window, names)
        ended = history.ended_since(window, names)
        digest = build_digest(
            DigestInputs(
                receiver=receiver,
                week=week,
                today=now.astimezone(self.settings.tz).date(),
                reports=reports,
                since=since,
                previous_states=_states_in(last),
                new_releases=[r for r in releases if r.released_on and r.released_on >= window.date()],
                opened=[
                    f"{s.payload['severity']}: {s.payload['summary']}"
                    for s in opened
                    if s.resolved_at is None
                ],
                resolved=[f"{s.kind} on {s.deployment}: {s.payload['summary']}" for s in ended],
                health=health,
                extra_health=self._dead_letters(receiver, since=window, dead=history.dead),
                horizon_days=self.settings.notify.digest_horizon_days,
                urls=self._urls(names),
            )
        )
        return Outgoing(target, DeliveryKey.digest(week), f"digest {week}", DigestPayload(digest))

    def _urls(self, names: set[str]) -> dict[str, str]:
        base = public_url(self.settings)
        return {name: url for name in names if (url := deployment_url(base, name))}

    def _dead_letters(self, receiver: str, *, since: datetime, dead: Sequence[DeliveryRecord]) -> list[str]:
        # each digest reports its own receiver's deliveries that died since the one before, not
        # all of history nor another team's; one claimed earlier may have died up to the give-up
        # age later
        cutoff = since - timedelta(hours=self.settings.notify.give_up_hours)
        own = [r for r in dead if r.created_at >= cutoff and r.target.startswith(f"{receiver}/")]
        return [f"delivery to {r.target} dead-lettered ({r.key}): {r.last_error}" for r in own[-20:]]


@dataclass(frozen=True, slots=True)
class History:
    """What a digest run reports on, read once for all its targets: findings opened, and resolved
    (not superseded), since the earliest window of the targets it sends to, and the dead
    letters; each target keeps those inside its own window (and of its own receiver)."""

    opened: Sequence[FindingState]
    ended: Sequence[FindingState]
    dead: Sequence[DeliveryRecord] = ()

    def opened_since(self, window: datetime, names: set[str]) -> list[FindingState]:
        return [s for s in self.opened if s.deployment in names and s.first_seen_at >= window]

    def ended_since(self, window: datetime, names: set[str]) -> list[FindingState]:
        return [s for s in self.ended if s.deployment in names and s.resolved_at and s.resolved_at >= window]


def _window(last: DeliveryRecord | None, now: datetime) -> datetime:
    """Since when a digest reports: its target's last digest sent, else the past week."""
    return last.sent_at if last is not None and last.sent_at is not None else now - timedelta(days=7)


def _states_in(last: DeliveryRecord | None) -> dict[str, str]:
    """Deployment name -> state in the last digest sent, what this one compares against."""
    if last is None:
        return {}
    try:
        payload = read_payload(last.payload)
    except (KeyError, TypeError, ValueError):
        return {}  # unreadable: this digest reports no state changes rather than none at all
    return payload.digest.states() if isinstance(payload, DigestPayload) else {}
