"""Data health: ``source_stale`` and ``date_conflict`` findings — pure, ``now`` passed in.

Both are findings about sources, not deployments: ``deployment`` and ``team`` are empty and
the ``dedup_key`` is derived from the facts only, so the same facts give the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from supportwatch.values import Finding, FindingKind, Observation, Severity, SourceState


class Staleness(Protocol):
    """When a source that has answered before counts as stale (the ``source_health`` settings)."""

    @property
    def stale_failures(self) -> int: ...

    @property
    def stale_hours(self) -> float: ...


@dataclass(frozen=True, slots=True)
class StaleAfter:
    """A ``Staleness`` as a plain value."""

    stale_failures: int = 3
    stale_hours: float = 24.0


def stale_findings(states: Iterable[SourceState], settings: Staleness, *, now: datetime) -> list[Finding]:
    """A ``source_stale`` finding per source that is disabled, has never answered, or is failing
    or silent too long."""
    return [finding for state in states if (finding := _stale(state, settings, now)) is not None]


def _stale(state: SourceState, settings: Staleness, now: datetime) -> Finding | None:
    last = state.last_success_at.isoformat(timespec="minutes") if state.last_success_at else "never"
    error = f" Last error: {state.last_error}" if state.last_error else ""
    silent = state.last_success_at is not None and now - state.last_success_at > timedelta(
        hours=settings.stale_hours
    )
    if state.disabled:
        why = "is disabled after an HTTP 410 Gone"
        remedy = f"Point source {state.name!r} at the feed's new url in the config; polling resumes then."
    elif state.last_success_at is None and state.consecutive_failures > 0:
        # no good data from it at all: said at once, not after the failures a flaky source is allowed
        polls = "poll" if state.consecutive_failures == 1 else f"{state.consecutive_failures} polls"
        why = f"has never answered successfully ({polls} failed)"
        remedy = (
            f"Check source {state.name!r}: its url, network and token; until it answers, "
            "its releases are unknown."
        )
    elif state.consecutive_failures >= settings.stale_failures:
        why = f"failed {state.consecutive_failures} polls in a row (last success: {last})"
        remedy = f"Check source {state.name!r}: its url, network and token; the last good data is kept."
    elif silent:
        why = f"has had no successful poll for over {settings.stale_hours:g} hours (last success: {last})"
        remedy = f"Check that the scheduler runs and {state.name!r} is reachable, or run `supportwatch poll`."
    else:
        return None
    return Finding(
        kind=FindingKind.SOURCE_STALE,
        severity=Severity.WARNING,
        deployment="",
        team="",
        subject=state.name,
        dedup_key=f"{FindingKind.SOURCE_STALE.value}:{state.name}",
        summary=f"source {state.name!r} {why}.{error}",
        remedy=remedy,
    )


def date_conflict_findings(
    observations: Iterable[Observation], *, priority: Sequence[str], max_days: int = 1
) -> list[Finding]:
    """A ``date_conflict`` finding per version whose sources' dates differ by more than ``max_days``.

    Only sources in ``priority`` (the configured ones, most trusted first) are compared; the
    summary names the date the most trusted source gives, which is the one in effect.
    """
    rank = {name: index for index, name in enumerate(priority)}
    claims: dict[tuple[str, str], list[tuple[int, str, date]]] = {}
    for obs in observations:
        if obs.released_on is not None and obs.source in rank:
            claims.setdefault((obs.component, obs.version), []).append(
                (rank[obs.source], obs.source, obs.released_on)
            )
    findings = []
    for (component, version), items in sorted(claims.items()):
        days = [day for _, _, day in items]
        if (max(days) - min(days)).days > max_days:
            findings.append(_conflict(component, version, sorted(items)))
    return findings


def _conflict(component: str, version: str, items: list[tuple[int, str, date]]) -> Finding:
    said = ", ".join(f"{source} says {day.isoformat()}" for _, source, day in items)
    facts = ",".join(f"{source}={day.isoformat()}" for _, source, day in sorted(items, key=lambda i: i[1]))
    _, winner, day = items[0]
    return Finding(
        kind=FindingKind.DATE_CONFLICT,
        severity=Severity.WARNING,
        deployment="",
        team="",
        subject=f"{component} {version}",
        dedup_key=f"{FindingKind.DATE_CONFLICT.value}:{component}:{version}:{facts}",
        summary=(
            f"sources disagree on the release date of {component} {version}: {said}; "
            f"using {day.isoformat()} from {winner} (highest priority)"
        ),
        remedy=(
            "Check the vendor's page for the real date; if the wrong source wins, list the right one "
            "earlier under sources, or pin the date with a static source listed first."
        ),
    )
