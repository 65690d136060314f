"""The ICS feed: each agent minor's maintenance window and its end, with reminders — pure.

A minor is maintained on days ``released_on <= d < end_of_maintenance`` (DESIGN §1), which is
exactly an all-day VEVENT with an exclusive DTEND. A second all-day event marks the end day
and carries one VALARM per reminder rung, then one on the day. While the policy keeps the
newest stable minor maintained, that minor has no end event (nothing is ending yet); a minor
kept past its nominal end by that exemption ends on the day a newer release counts.

The output depends only on the arguments, ``now`` included (it is the DTSTAMP): the same
store on the same day renders the same bytes, so an HTTP ETag over them is meaningful. A team's
feed needs no evaluation: the minors its deployments run are read off their image tags.
icalendar is imported when a feed is rendered, not with this module (the dashboard imports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluation_day
from supportwatch.policy import MaintenancePolicy, MinorWindow
from supportwatch.values import Deployment
from supportwatch.versions import minor_label
from supportwatch.wording import until

if TYPE_CHECKING:
    from icalendar import Alarm, Event

PRODID = "-//supportwatch//agent maintenance//EN"
DEFAULT_NAME = "Astro agent maintenance"
Minor = tuple[int, int]


def render_calendar(
    windows: Iterable[MinorWindow],
    *,
    now: datetime,
    policy: MaintenancePolicy,
    deployments_by_minor: Mapping[Minor, Sequence[str]] | None = None,
    open_ended: Iterable[Minor] = (),
    name: str = DEFAULT_NAME,
    uid_suffix: str = "",
) -> bytes:
    """One VCALENDAR for ``windows`` (sorted by minor), stamped ``now`` (an aware datetime).

    With ``deployments_by_minor`` only those minors appear, and each event names the
    deployments that run it. ``open_ended`` minors (the newest, under a latest-minor policy)
    get no end-of-maintenance event. ``uid_suffix`` keeps a filtered feed's UIDs apart from
    the full feed's, so a client subscribed to both keeps both.
    """
    from icalendar import Calendar  # noqa: PLC0415 - see the module docstring

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    stamp = now.astimezone(UTC)
    ongoing = set(open_ended)
    for window in sorted(windows, key=lambda item: item.minor):
        if deployments_by_minor is not None and window.minor not in deployments_by_minor:
            continue
        running = deployments_by_minor.get(window.minor, ()) if deployments_by_minor else ()
        calendar.add_component(
            _window_event(
                window,
                policy,
                stamp=stamp,
                running=running,
                uid_suffix=uid_suffix,
                ongoing=window.minor in ongoing,
            )
        )
        if window.minor not in ongoing:
            calendar.add_component(
                _end_event(window, policy, stamp=stamp, running=running, uid_suffix=uid_suffix)
            )
    return bytes(calendar.to_ical())


def _description(window: MinorWindow, policy: MaintenancePolicy, running: Sequence[str]) -> str:
    lines = [
        f"Agent {minor_label(window.minor)}: released {window.released_on.isoformat()}, "
        f"maintained until {window.end_of_maintenance.isoformat()} (exclusive) "
        f"under policy {window.policy_id}: {policy.wording}",
    ]
    if window.estimated:
        lines.append(
            "The date is estimated: the .0 release date is unknown, so the earliest known release anchors it."
        )
    if running:
        lines.append("Deployments on this minor: " + ", ".join(running))
    return "\n".join(lines)


def _window_event(
    window: MinorWindow,
    policy: MaintenancePolicy,
    *,
    stamp: datetime,
    running: Sequence[str],
    uid_suffix: str,
    ongoing: bool,
) -> Event:
    from icalendar import Event  # noqa: PLC0415 - see the module docstring

    label = minor_label(window.minor)
    end = window.end_of_maintenance.isoformat()
    event = Event()
    event.add("uid", f"agent-{label}-maintenance{uid_suffix}@supportwatch")
    event.add("dtstamp", stamp)
    event.add("dtstart", window.released_on)
    event.add("dtend", window.end_of_maintenance)
    estimated = ", estimated" if window.estimated else ""
    newest = "; newest minor, maintained until a newer one is released" if ongoing else ""
    event.add("summary", f"Agent {label} maintained (ends {end}{estimated}{newest})")
    event.add("description", _description(window, policy, running))
    event.add("transp", "TRANSPARENT")
    return event


def _end_event(
    window: MinorWindow,
    policy: MaintenancePolicy,
    *,
    stamp: datetime,
    running: Sequence[str],
    uid_suffix: str,
) -> Event:
    from icalendar import Event  # noqa: PLC0415 - see the module docstring

    label = minor_label(window.minor)
    event = Event()
    event.add("uid", f"agent-{label}-end{uid_suffix}@supportwatch")
    event.add("dtstamp", stamp)
    event.add("dtstart", window.end_of_maintenance)
    event.add("dtend", window.end_of_maintenance + timedelta(days=1))
    event.add("summary", f"Agent {label} end of maintenance" + (" (estimated)" if window.estimated else ""))
    event.add("description", _description(window, policy, running))
    event.add("transp", "TRANSPARENT")
    for days in sorted(set(policy.reminder_days), reverse=True):
        event.add_component(_alarm(timedelta(days=-days), f"Agent {label} leaves maintenance {until(days)}"))
    event.add_component(_alarm(timedelta(0), f"Agent {label} leaves maintenance today"))
    return event


def _alarm(trigger: timedelta, text: str) -> Alarm:
    from icalendar import Alarm  # noqa: PLC0415 - see the module docstring

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", trigger)
    alarm.add("description", text)
    return alarm


def feed_stamp(now: datetime, tz: ZoneInfo) -> datetime:
    """The DTSTAMP of a feed rendered at ``now``: the start of that day in ``tz``, in UTC.

    The feed's content changes at most daily (the catalog is taken as of a day) or when the
    store changes, so stamping the day rather than the instant keeps repeated renders identical.
    """
    day = evaluation_day(now, tz)
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def open_ended_minors(catalog: Catalog) -> set[Minor]:
    """Minors the policy keeps maintained with no end yet: the newest stable minor."""
    return {minor for minor in catalog.windows if catalog.open_ended(minor)}


def effective_windows(catalog: Catalog) -> list[MinorWindow]:
    """Each minor's window ending when maintenance really ends (later than nominal while the
    newest-minor exemption lasts until a newer release counts)."""
    windows = []
    for minor, window in catalog.windows.items():
        maintenance = catalog.maintenance(minor)
        ends_on = maintenance.ends_on if maintenance is not None else None
        windows.append(window if ends_on is None else replace(window, end_of_maintenance=ends_on))
    return windows


def team_deployments(items: Iterable[DeploymentReport | Deployment], team: str) -> dict[Minor, list[str]]:
    """The agent minors ``team``'s deployments run, each with those deployments' names (sorted).

    ``items`` are reports or the deployments themselves: a report's agent is its image tag's.
    """
    found: dict[Minor, list[str]] = {}
    for item in items:
        deployment = item.deployment if isinstance(item, DeploymentReport) else item
        tag = deployment.image.tag
        if deployment.team == team and tag is not None and tag.agent is not None:
            found.setdefault(tag.agent.minor_key, []).append(deployment.name)
    return {minor: sorted(names) for minor, names in found.items()}


def feed(
    catalog: Catalog,
    reports: Iterable[DeploymentReport | Deployment],
    *,
    now: datetime,
    tz: ZoneInfo,
    team: str | None = None,
) -> bytes:
    """The ICS feed as the CLI and the web serve it: every minor, or only ``team``'s."""
    by_minor = team_deployments(reports, team) if team is not None else None
    return render_calendar(
        effective_windows(catalog),
        now=feed_stamp(now, tz),
        policy=catalog.policy,
        deployments_by_minor=by_minor,
        open_ended=open_ended_minors(catalog),
        name=f"{DEFAULT_NAME}: {team}" if team is not None else DEFAULT_NAME,
        uid_suffix=f".team-{team}" if team is not None else "",
    )
