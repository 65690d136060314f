"""The planning rules on plain values: routing, mutes, repeats, episodes and resolutions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from supportwatch.notify.episodes import FindingState
from supportwatch.notify.log import DeliveryKey
from supportwatch.notify.payload import NoticePayload
from supportwatch.notify.plan import (
    Outgoing,
    Route,
    Router,
    family,
    fired_keys,
    firing,
    repeat_period,
    resolved_notices,
)
from supportwatch.values import Finding, FindingKind, Severity

NOW = datetime(2026, 8, 11, 9, tzinfo=UTC)
EOM = "end_of_maintenance:prod-east:agent-1.3"

ROUTER = Router.of(
    [Route("data-platform", "platform"), Route("analytics", "data"), Route("data-platform", "ignored")],
    receivers={"platform": ["slack", "email"], "data": ["slack"], "quiet": []},
    default="console",
)


def finding(
    kind: FindingKind = FindingKind.END_OF_MAINTENANCE,
    severity: Severity = Severity.CRITICAL,
    dedup_key: str = EOM,
    team: str = "data-platform",
) -> Finding:
    return Finding(
        kind=kind,
        severity=severity,
        deployment="prod-east",
        team=team,
        subject="agent 1.3.0",
        dedup_key=dedup_key,
        summary=f"{dedup_key} summary",
        remedy="Upgrade to 1.6.0",
        end_of_maintenance=date(2026, 7, 28),
        days_left=-14,
    )


def keys(outgoing: list[Outgoing]) -> list[tuple[str, str]]:
    return [(item.target, str(item.key)) for item in outgoing]


# --- routing --------------------------------------------------------------------------------------


def test_the_first_route_for_a_team_wins_and_unrouted_teams_go_to_the_default() -> None:
    assert ROUTER.receiver("data-platform") == "platform"
    assert ROUTER.receiver("analytics") == "data"
    assert ROUTER.receiver("nobody") == "console"
    assert ROUTER.receivers(["analytics", "nobody", "data-platform", "analytics"]) == [
        "console",
        "data",
        "platform",
    ]


def test_targets_follow_the_receivers_integrations_in_order() -> None:
    assert ROUTER.targets("data-platform") == ["platform/slack", "platform/email"]
    assert ROUTER.targets("analytics") == ["data/slack"]
    assert ROUTER.targets("nobody") == ["console/console"]  # the built-in receiver


def test_a_default_receiver_that_is_not_configured_logs_to_the_console() -> None:
    router = Router.of([], receivers={}, default="missing")
    assert router.targets("any") == ["missing/console"]


@pytest.mark.parametrize(
    ("receiver", "targets"),
    [
        ("platform", ["platform/slack", "platform/email"]),
        ("data", ["data/slack"]),
        ("console", ["console/console"]),
    ],
)
def test_digests_go_to_every_channel_of_the_receiver(receiver: str, targets: list[str]) -> None:
    # issue 10: every channel the receiver configures (it was: email, else Slack, else the console)
    assert ROUTER.digest_targets(receiver) == targets


def test_a_receiver_may_take_its_digest_on_fewer_channels() -> None:
    router = Router.of(
        [], receivers={"platform": ["slack", "email"]}, default="console", digests={"platform": ["email"]}
    )
    assert router.digest_targets("platform") == ["platform/email"]


def test_data_health_goes_to_its_receiver_else_the_default() -> None:
    routed = Router.of([Route("t", "platform")], receivers={"platform": ["slack"], "ops": ["email"]},
                       default="platform", health="ops")  # fmt: skip
    assert routed.targets("", "source_stale") == ["ops/email"]
    assert routed.targets("t", "date_conflict") == ["ops/email"]
    assert routed.targets("t", "end_of_maintenance") == ["platform/slack"]
    default = Router.of([], receivers={"platform": ["slack"]}, default="platform")
    assert default.targets("", "source_stale") == ["platform/slack"]


def test_families_group_the_kinds_that_replace_one_another() -> None:
    assert family("maintenance_ending") == family("end_of_maintenance") == "maintenance"
    assert family("behind_latest_patch") == "behind_latest_patch"


# --- firing ---------------------------------------------------------------------------------------


def test_each_finding_goes_to_every_target_of_its_receiver() -> None:
    outgoing = firing([finding()], router=ROUTER, first_seen={}, now=NOW, repeat_days=7, muted=set())
    assert keys(outgoing) == [("platform/slack", EOM), ("platform/email", EOM)]
    payload = outgoing[0].payload
    assert isinstance(payload, NoticePayload)
    assert (payload.notice.status, payload.notice.repeat, payload.notice.dedup_key) == ("firing", 0, EOM)
    assert outgoing[0].summary == f"{EOM} summary"


def test_a_muted_finding_is_skipped() -> None:
    other = finding(FindingKind.FLOATING_TAG, Severity.WARNING, "floating_tag:prod-east", team="analytics")
    outgoing = firing([finding(), other], router=ROUTER, first_seen={}, now=NOW, repeat_days=7, muted={EOM})
    assert keys(outgoing) == [("data/slack", "floating_tag:prod-east")]


@pytest.mark.parametrize(("days", "period"), [(0, 0), (6, 0), (7, 1), (13, 1), (14, 2), (30, 4)])
def test_a_critical_finding_repeats_every_interval(days: int, period: int) -> None:
    first_seen = {EOM: NOW - timedelta(days=days)}
    [slack, _] = firing([finding()], router=ROUTER, first_seen=first_seen, now=NOW, repeat_days=7, muted=())
    assert slack.key == DeliveryKey.finding(EOM).repeat(period)
    assert isinstance(slack.payload, NoticePayload) and slack.payload.notice.repeat == period
    assert repeat_period(NOW - timedelta(days=days), NOW, 7) == period


def test_a_warning_never_repeats() -> None:
    warning = finding(
        FindingKind.BEHIND_LATEST_PATCH, Severity.WARNING, "behind_latest_patch:prod-east:1.3.1"
    )
    outgoing = firing(
        [warning], router=ROUTER, first_seen={warning.dedup_key: NOW - timedelta(days=60)}, now=NOW,
        repeat_days=7, muted=(),
    )  # fmt: skip
    assert {str(item.key) for item in outgoing} == {"behind_latest_patch:prod-east:1.3.1"}


def test_a_finding_that_came_back_fires_under_its_episode() -> None:
    outgoing = firing(
        [finding()], router=ROUTER, first_seen={EOM: NOW - timedelta(days=8)}, now=NOW, repeat_days=7,
        muted=(), episodes={EOM: 2},
    )  # fmt: skip
    assert keys(outgoing)[0] == ("platform/slack", f"{EOM}:episode-2:repeat-1")


# --- resolutions ----------------------------------------------------------------------------------


def state(*, first_seen: datetime, resolved_at: datetime | None, episode: int = 0) -> FindingState:
    [item] = firing([finding()], router=ROUTER, first_seen={}, now=NOW, repeat_days=7, muted=())[:1]
    assert isinstance(item.payload, NoticePayload)
    return FindingState(
        dedup_key=EOM,
        kind="end_of_maintenance",
        deployment="prod-east",
        team="data-platform",
        payload=item.payload.notice.to_payload(),
        first_seen_at=first_seen,
        resolved_at=resolved_at,
        superseded=False,
        episode=episode,
    )


def test_fired_keys_are_the_first_notice_and_each_repeat_until_it_ended() -> None:
    ended = state(first_seen=NOW - timedelta(days=20), resolved_at=NOW)
    assert [str(key) for key in fired_keys(ended, 7)] == [EOM, f"{EOM}:repeat-1", f"{EOM}:repeat-2"]
    short = state(first_seen=NOW - timedelta(days=2), resolved_at=NOW, episode=1)
    assert fired_keys(short, 7) == [DeliveryKey.episode(EOM, 1)]


def test_a_resolution_goes_to_every_target_under_the_episodes_resolved_key() -> None:
    ended = state(first_seen=NOW - timedelta(days=20), resolved_at=NOW, episode=1)
    notices = resolved_notices([ended], router=ROUTER)
    assert [(target, dedup_key) for target, dedup_key, _ in notices] == [
        ("platform/slack", EOM),
        ("platform/email", EOM),
    ]
    outgoing = notices[0][2]
    assert str(outgoing.key) == f"resolved:{EOM}:episode-1"
    assert isinstance(outgoing.payload, NoticePayload)
    assert (outgoing.payload.notice.status, outgoing.payload.notice.repeat) == ("resolved", 0)
    assert outgoing.summary == f"resolved: {EOM} summary"
