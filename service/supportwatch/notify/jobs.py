"""The two notification jobs, ``notify`` and ``digest``, over evaluated reports.

``Service`` gathers the inputs (reports, releases, data health) and calls these; this module
composes planning (pure), the store and delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from supportwatch.checks import DeploymentReport
from supportwatch.config import Settings
from supportwatch.errors import ConfigError
from supportwatch.notify import plan
from supportwatch.notify.delivery import Delivery, DeliveryReport
from supportwatch.notify.digest import DigestInputs, build_digest, due_week, iso_week
from supportwatch.notify.message import Notice
from supportwatch.notify.wiring import NotifyRuntime, build_integrations, secrets
from supportwatch.store import NotifyStore
from supportwatch.values import Finding, FindingState, Release


class Notifications:
    """Notify and digest runs for one settings tree, one store and one injected runtime."""

    def __init__(self, settings: Settings, store: NotifyStore, runtime: NotifyRuntime | None = None) -> None:
        self.settings = settings
        self.store = store
        self.runtime = runtime or NotifyRuntime()
        self.router = plan.Router.of(settings)

    def _delivery(self) -> Delivery:
        return Delivery(
            self.store,
            build_integrations(self.settings, self.runtime),
            self.settings.notify,
            sleep=self.runtime.sleep,
            secrets=secrets(self.settings),
        )

    def sync(
        self, reports: Sequence[DeploymentReport], *, now: datetime, commit: bool
    ) -> dict[str, FindingState]:
        """Record this run's findings; ended ones become resolved (or superseded: nothing fixed)."""
        findings = [finding for report in reports for finding in report.findings]
        live = {report.deployment.name for report in reports}
        families = {(f.deployment, plan.family(f.kind.value)) for f in findings}

        def superseded(state: FindingState) -> bool:
            return state.deployment not in live or (state.deployment, plan.family(state.kind)) in families

        current = [
            (f.dedup_key, f.kind.value, f.severity.value, f.deployment, f.team, Notice.of(f).to_payload())
            for f in findings
        ]
        return self.store.sync_findings(current, now=now, superseded=superseded, commit=commit)

    def notify(
        self, reports: Sequence[DeploymentReport], *, now: datetime, dry_run: bool = False
    ) -> DeliveryReport:
        """Deliver every due notice once: new facts, critical repeats, resolutions, pending retries."""
        states = self.sync(reports, now=now, commit=not dry_run)
        muted = {ack.dedup_key for ack in self.store.acks() if ack.active(now)}
        outgoing = plan.firing(
            [finding for report in reports for finding in report.findings],
            router=self.router,
            first_seen={key: state.first_seen_at for key, state in states.items()},
            episodes={key: state.episode for key, state in states.items()},
            now=now,
            repeat_days=self.settings.notify.repeat_interval_days,
            muted=muted,
            reports={report.deployment.name: report for report in reports},
        )
        outgoing += self._resolved(now)
        return self._delivery().run(outgoing, now=now, dry_run=dry_run)

    def _resolved(self, now: datetime) -> list[plan.Outgoing]:
        repeat_days = self.settings.notify.repeat_interval_days
        states = self.store.finding_states(resolved_since=now - timedelta(days=repeat_days))
        keys = {state.dedup_key: plan.fired_keys(state, repeat_days) for state in states}
        by_target: dict[str, list[tuple[str, plan.Outgoing]]] = {}
        for target, fired_key, outgoing in plan.resolved(states, router=self.router):
            by_target.setdefault(target, []).append((fired_key, outgoing))
        result: list[plan.Outgoing] = []
        for target, items in by_target.items():
            fired = self.store.sent_keys(target, [k for key, _ in items for k in keys[key]])
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
        """One digest per receiver for the week (keyed ``digest:<ISO week>``); already sent: nothing."""
        week = self.digest_week(now, scheduled=scheduled)
        receivers = self.router.receivers({report.deployment.team for report in reports})
        if receiver is not None:
            if receiver not in self.router.kinds:
                known = ", ".join(sorted(self.router.kinds))
                raise ConfigError("--receiver", f"{receiver!r} is not a receiver; known: {known}")
            receivers = [receiver]
        self.sync(reports, now=now, commit=not dry_run)
        outgoing = []
        for name in receivers:
            target = self.router.digest_target(name)
            if f"digest:{week}" in self.store.logged(target, [f"digest:{week}"]):
                continue
            routed = [r for r in reports if self.router.receiver(r.deployment.team) == name]
            outgoing.append(
                self._digest_outgoing(
                    receiver=name,
                    target=target,
                    week=week,
                    reports=routed,
                    releases=releases,
                    health=health,
                    now=now,
                )
            )
        return self._delivery().run(outgoing, now=now, dry_run=dry_run)

    def _digest_outgoing(
        self,
        *,
        receiver: str,
        target: str,
        week: str,
        reports: Sequence[DeploymentReport],
        releases: Sequence[Release],
        health: Sequence[Finding],
        now: datetime,
    ) -> plan.Outgoing:
        last = self.store.last_sent_digest(target)
        since = last.sent_at if last is not None else None
        window = since or now - timedelta(days=7)
        previous = last.payload.get("digest", {}).get("deployments", []) if last is not None else []
        names = {report.deployment.name for report in reports}
        opened = [s for s in self.store.finding_states(opened_since=window) if s.deployment in names]
        ended = [s for s in self.store.finding_states(resolved_since=window) if s.deployment in names]
        digest = build_digest(
            DigestInputs(
                receiver=receiver,
                week=week,
                today=now.astimezone(self.settings.tz).date(),
                reports=reports,
                since=since,
                previous_states={item["name"]: item["state"] for item in previous},
                new_releases=[r for r in releases if r.released_on and r.released_on >= window.date()],
                opened=[
                    f"{s.payload['severity']}: {s.payload['summary']}"
                    for s in opened
                    if s.resolved_at is None
                ],
                resolved=[f"{s.kind} on {s.deployment}: {s.payload['summary']}" for s in ended],
                health=health,
                extra_health=self._dead_letters(receiver, since=window),
                horizon_days=self.settings.notify.digest_horizon_days,
            )
        )
        return plan.Outgoing(target, f"digest:{week}", f"digest {week}", {"digest": digest.to_payload()})

    def _dead_letters(self, receiver: str, *, since: datetime) -> list[str]:
        # each digest reports its own receiver's deliveries that died since the one before, not
        # all of history nor another team's; one claimed earlier may have died up to the give-up
        # age later
        cutoff = since - timedelta(hours=self.settings.notify.give_up_hours)
        dead = [
            r
            for r in self.store.records(state="dead")
            if r.created_at >= cutoff and r.target.startswith(f"{receiver}/")
        ]
        return [f"delivery to {r.target} dead-lettered ({r.key}): {r.last_error}" for r in dead[-20:]]
