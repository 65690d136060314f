"""The maintenance-window timeline: one bar per agent minor, today marked, as inline SVG — pure.

A bar runs from the minor's first release to the first day it is no longer maintained (as the
calendar feed says it: later than nominal while the newest-minor exemption lasts); the newest
stable minor, kept maintained with no end yet, runs to the right edge as open-ended. The
geometry is computed here and drawn by ``timeline.html.j2`` (autoescaped): no script, no
external reference, a ``viewBox`` so it scales to any width, a ``<title>`` per bar with its
dates. A deployment's page highlights the minor it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from supportwatch.catalog import Catalog
from supportwatch.versions import minor_label
from supportwatch.wording import count

Minor = tuple[int, int]

WIDTH = 420  # viewBox units; the SVG scales to its container (about 1:1 on a phone)
LABELS = 46  # the minor labels' column
RIGHT = 10
TOP = 34  # the axis labels and the "today" label
ROW = 24
BAR = 14
LABEL_ROOM = 66  # an end date's label at font size 10
MAX_TICKS = 6


@dataclass(frozen=True, slots=True)
class Bar:
    """One minor's window; ``end`` is the first unmaintained day, None while open-ended."""

    minor: str
    start: date
    end: date | None
    nominal_end: date
    estimated: bool
    status: str  # ended, ending (within the first reminder rung), maintained, open
    highlighted: bool
    deployments: int
    y: float
    x_start: float
    x_end: float
    label: str
    label_x: float
    label_inside: bool

    @property
    def title(self) -> str:
        """The bar's dates in words (its SVG ``<title>``)."""
        estimated = " (estimated)" if self.estimated else ""
        if self.end is None:
            ends = f"open: newest minor, maintained until a newer one counts (nominal {self.nominal_end})"
        else:
            verb = "ended" if self.status == "ended" else "ends"
            ends = f"{verb} {self.end.isoformat()}{estimated}"
        verb = "runs" if self.deployments == 1 else "run"
        running = f"; {count(self.deployments, 'tracked deployment')} {verb} it" if self.deployments else ""
        return f"Agent {self.minor}: released {self.start.isoformat()}, {ends}{running}"


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """What the template draws: bars top to bottom (oldest minor first), axis ticks, today."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    today: date
    today_x: float
    top: int
    bottom: int


def build_timeline(
    catalog: Catalog,
    today: date,
    *,
    highlight: Minor | None = None,
    running: Mapping[Minor, int] | None = None,
) -> Timeline:
    """The timeline of every agent minor the catalog knows, as of ``today``."""
    rows = []
    for minor in sorted(catalog.windows):
        maintenance = catalog.maintenance(minor)
        window = catalog.windows[minor]
        rows.append((minor, window, maintenance.ends_on if maintenance is not None else None))
    ends = [end or window.end_of_maintenance for _, window, end in rows]
    first = min([window.released_on for _, window, _ in rows], default=today) - timedelta(days=10)
    last = max([*ends, today])
    last += timedelta(days=max(30, (last - first).days // 12))
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return round(LABELS + (WIDTH - LABELS - RIGHT) * (day - first).days / span, 1)

    warn = max(catalog.policy.reminder_days, default=60)
    bars = []
    for index, (minor, window, end) in enumerate(rows):
        x_start, x_end = x(window.released_on), x(end) if end is not None else x(last)
        if end is None:
            status, label = "open", "open"
        else:
            left = (end - today).days
            status = "ended" if left <= 0 else "ending" if left <= warn else "maintained"
            label = end.isoformat()
        inside = x_end + LABEL_ROOM > WIDTH - RIGHT and x_end - x_start > LABEL_ROOM
        bars.append(
            Bar(
                minor=minor_label(minor),
                start=window.released_on,
                end=end,
                nominal_end=window.end_of_maintenance,
                estimated=window.estimated,
                status=status,
                highlighted=minor == highlight,
                deployments=(running or {}).get(minor, 0),
                y=TOP + index * ROW,
                x_start=x_start,
                x_end=max(x_end, x_start + 2),
                label=label,
                label_x=x_end - 4 if inside else x_end + 4,
                label_inside=inside,
            )
        )
    height = TOP + max(len(rows), 1) * ROW + 6
    return Timeline(
        width=WIDTH,
        height=height,
        bars=tuple(bars),
        ticks=tuple(Tick(x(day), text) for day, text in _ticks(first, last)),
        today=today,
        today_x=x(today),
        top=TOP - 10,
        bottom=height - 4,
    )


def _ticks(first: date, last: date) -> list[tuple[date, str]]:
    """First days of months from ``first`` to ``last``, every 1, 3, 6, 12 or 24 months: at most
    ``MAX_TICKS``; labelled ``2026-04``, or ``2026`` when yearly."""
    months = (last.year - first.year) * 12 + last.month - first.month
    step = next((s for s in (1, 3, 6, 12, 24) if months // s < MAX_TICKS), 60)
    index = first.year * 12 + first.month  # the month after first's: its first day is inside
    index += -index % step if step > 1 else 0
    found: list[tuple[date, str]] = []
    while True:
        year, month = divmod(index, 12)
        day = date(year, month + 1, 1)
        if day > last:
            return found
        found.append((day, f"{year}" if step >= 12 else f"{year}-{month + 1:02d}"))
        index += step
