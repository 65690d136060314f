"""The vendor's maintenance policy and each agent minor's maintenance window — pure.

A minor is maintained on days ``d`` with ``released_on <= d < end_of_maintenance``, where
``end_of_maintenance`` is the ``.0`` release date plus N calendar months, clamped to the end
of the month (2025-08-31 + 6 months = 2026-02-28). If the ``.0`` is unknown, the earliest
known release of the minor anchors the window and the window is marked ``estimated``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from supportwatch.versions import AgentVersion


@dataclass(frozen=True, slots=True)
class MaintenancePolicy:
    """The policy as configured: its id and wording are recorded with every computed date."""

    id: str
    wording: str
    maintenance_months: int = 6
    latest_minor_supported: bool = True
    behind_grace_days: int = 7
    reminder_days: tuple[int, ...] = (60, 30, 14, 7, 1)


class SupportState(StrEnum):
    """A deployment's standing, as printed by ``check``."""

    CURRENT = "current"
    BEHIND = "behind"
    UNMAINTAINED = "unmaintained"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MinorWindow:
    """The maintenance window of one agent minor."""

    minor: tuple[int, int]
    released_on: date
    end_of_maintenance: date
    estimated: bool
    policy_id: str

    def maintained_on(self, day: date) -> bool:
        return self.released_on <= day < self.end_of_maintenance

    def days_left(self, day: date) -> int:
        """Days from ``day`` until the first unmaintained day (0 on that day, negative after)."""
        return (self.end_of_maintenance - day).days


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the last day of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if year > date.max.year:
        return date.max  # a source's absurd date must not crash every evaluation
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def minor_windows(
    released: Iterable[tuple[AgentVersion, date]], policy: MaintenancePolicy
) -> dict[tuple[int, int], MinorWindow]:
    """Window per (major, minor) from ``(version, release date)`` pairs; pre-releases ignored."""
    anchors: dict[tuple[int, int], tuple[date, bool]] = {}
    for version, released_on in released:
        if version.is_prerelease:
            continue
        is_zero = version.patch == 0
        known = anchors.get(version.minor_key)
        if known is None or _better_anchor((released_on, is_zero), known):
            anchors[version.minor_key] = (released_on, is_zero)
    return {
        key: MinorWindow(
            minor=key,
            released_on=anchor,
            end_of_maintenance=add_months(anchor, policy.maintenance_months),
            estimated=not is_zero,
            policy_id=policy.id,
        )
        for key, (anchor, is_zero) in anchors.items()
    }


def _better_anchor(candidate: tuple[date, bool], known: tuple[date, bool]) -> bool:
    # the .0 release wins; without one, the earliest known release of the minor anchors it
    if candidate[1] != known[1]:
        return candidate[1]
    return candidate[0] < known[0]


def reminder_rung(days_left: int, rungs: Iterable[int]) -> int | None:
    """The smallest rung >= ``days_left`` (the reminder now due), or None if none applies."""
    if days_left <= 0:
        return None
    due = [rung for rung in rungs if rung >= days_left]
    return min(due) if due else None


def is_unmaintained(window: MinorWindow, *, newest_minor: bool, policy: MaintenancePolicy, day: date) -> bool:
    """Whether the minor is past its end of maintenance on ``day``, honouring the latest-minor rule."""
    if newest_minor and policy.latest_minor_supported:
        return False
    return day >= window.end_of_maintenance
