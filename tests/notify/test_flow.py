"""The notify sequence end to end: once per fact, each rung once, repeats, resolutions, acks, leases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from supportwatch.notify.log import DeliveryKey, DeliveryLog, DeliveryState
from supportwatch.notify.wiring import NotifyRuntime
from supportwatch.service import Service

from .loopback import IMAGE, ROUTE, FakeTime, SlackServer, make_settings, slack_receiver


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)


def open_service(tmp_path: Path, server: SlackServer, version: str = "1.3.0", **extra: Any) -> Service:
    deployments = [{"name": "prod-east", "team": "data-platform", "image": IMAGE.format(version)}]
    settings = make_settings(
        tmp_path, deployments=deployments, receivers=[slack_receiver(server)], routes=ROUTE, **extra
    )
    fake = FakeTime()
    service = Service.open(settings)
    service.notify_runtime = NotifyRuntime(sleep=fake.sleep, clock=fake.clock)
    service.apply_static(at("2026-05-01"))
    return service


def sent_keys(service: Service) -> list[str]:
    return [r.key for r in DeliveryLog(service.engine).records(state=DeliveryState.SENT)]


def test_running_notify_twice_sends_each_message_once(tmp_path: Path, slack_server: SlackServer) -> None:
    service = open_service(tmp_path, slack_server)
    first = service.notify(at("2026-06-28"))
    second = service.notify(at("2026-06-28"))
    service.close()
    assert first.sent_messages == 1
    assert first.sent_keys == 2
    assert second.sent_messages == 0
    assert len(slack_server.requests) == 1


def test_each_rung_once_then_end_of_maintenance_then_weekly_repeats(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server)
    days = ["2026-05-29", "2026-05-30", "2026-06-28", "2026-07-01", "2026-07-14", "2026-07-21"]
    days += ["2026-07-22", "2026-07-27", "2026-07-28", "2026-07-29", "2026-08-04", "2026-08-05", "2026-08-11"]
    for day in days:
        service.notify(at(day))
    keys = sent_keys(service)
    service.close()
    rungs = [key for key in keys if key.startswith("maintenance_ending")]
    assert rungs == [f"maintenance_ending:prod-east:agent-1.3:rung-{n}" for n in (60, 30, 14, 7, 1)]
    ends = [key for key in keys if key.startswith("end_of_maintenance")]
    assert ends == [
        "end_of_maintenance:prod-east:agent-1.3",
        "end_of_maintenance:prod-east:agent-1.3:repeat-1",
        "end_of_maintenance:prod-east:agent-1.3:repeat-2",
    ]
    assert "2026-07-28" in json.dumps(slack_server.requests[-3].body)


def test_upgrade_sends_one_resolved_message(tmp_path: Path, slack_server: SlackServer) -> None:
    service = open_service(tmp_path, slack_server)
    service.notify(at("2026-07-29"))
    service.close()
    upgraded = open_service(tmp_path, slack_server, version="1.6.0")
    report = upgraded.notify(at("2026-07-30"))
    again = upgraded.notify(at("2026-07-31"))
    keys = sent_keys(upgraded)
    upgraded.close()
    assert report.sent_messages == 1
    assert again.sent_messages == 0
    assert "resolved:end_of_maintenance:prod-east:agent-1.3" in keys
    assert "Resolved: End of maintenance on prod-east" in json.dumps(slack_server.requests[-1].body)


def test_a_finding_that_comes_back_is_announced_again_and_resolved_again(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    broken = open_service(tmp_path, slack_server)
    broken.notify(at("2026-07-29"))  # end of maintenance fires
    broken.close()
    fixed = open_service(tmp_path, slack_server, version="1.6.0")
    fixed.notify(at("2026-07-30"))  # upgraded: resolved
    fixed.close()
    rolled_back = open_service(tmp_path, slack_server)
    back = rolled_back.notify(at("2026-07-31"))  # rolled back: the same facts, a new episode
    again = rolled_back.notify(at("2026-08-01"))
    rolled_back.close()
    refixed = open_service(tmp_path, slack_server, version="1.6.0")
    refixed.notify(at("2026-08-02"))
    keys = sent_keys(refixed)
    refixed.close()
    assert back.sent_messages == 1
    assert again.sent_messages == 0
    assert {
        "end_of_maintenance:prod-east:agent-1.3",
        "resolved:end_of_maintenance:prod-east:agent-1.3",
        "end_of_maintenance:prod-east:agent-1.3:episode-1",
        "resolved:end_of_maintenance:prod-east:agent-1.3:episode-1",
    } <= set(keys)


def test_a_new_rung_is_not_a_resolution(tmp_path: Path, slack_server: SlackServer) -> None:
    service = open_service(tmp_path, slack_server)
    service.notify(at("2026-06-28"))
    service.notify(at("2026-07-14"))
    keys = sent_keys(service)
    service.close()
    assert not [key for key in keys if key.startswith("resolved:")]


def test_ack_until_a_date_then_until_the_facts_change(tmp_path: Path, slack_server: SlackServer) -> None:
    service = open_service(tmp_path, slack_server)
    service.ack("end_of_maintenance:prod-east:agent-1.3", until=at("2026-08-10"), now=at("2026-07-01"))
    service.ack("maintenance_ending:prod-east:agent-1.3:rung-14", until=None, now=at("2026-07-01"))
    service.notify(at("2026-07-14"))  # rung 14 acked
    service.notify(at("2026-07-21"))  # rung 7: new facts, not acked
    service.notify(at("2026-07-28"))  # end of maintenance acked until 08-10
    service.notify(at("2026-08-11"))  # ack expired: the current repeat goes out
    keys = sent_keys(service)
    assert [a.dedup_key for a in service.acks()] == [
        "end_of_maintenance:prod-east:agent-1.3",
        "maintenance_ending:prod-east:agent-1.3:rung-14",
    ]
    service.close()
    assert "maintenance_ending:prod-east:agent-1.3:rung-14" not in keys
    assert "maintenance_ending:prod-east:agent-1.3:rung-7" in keys
    assert [k for k in keys if k.startswith("end_of")] == ["end_of_maintenance:prod-east:agent-1.3:repeat-2"]


def test_a_claim_left_by_a_killed_process_is_resumed_after_the_lease(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server, notify={"lease_seconds": 300})
    log = DeliveryLog(service.engine)
    dry = service.notify(at("2026-06-28"), dry_run=True)
    assert dry.preview
    assert slack_server.requests == []
    # a process claimed the rung, then died before sending
    payload = {"notice": {"status": "firing", "kind": "maintenance_ending", "severity": "warning",
                          "deployment": "prod-east", "team": "data-platform", "summary": "s", "remedy": "r",
                          "dedup_key": "maintenance_ending:prod-east:agent-1.3:rung-30",
                          "end_of_maintenance": "2026-07-28", "days_left": 30, "repeat": 0}}  # fmt: skip
    key = "maintenance_ending:prod-east:agent-1.3:rung-30"
    assert log.claim(
        "data-platform/slack",
        DeliveryKey.finding(key),
        now=at("2026-06-28"),
        lease_seconds=300,
        summary="s",
        payload=payload,
    )
    service.notify(at("2026-06-28"))
    assert key not in sent_keys(service)
    service.notify(at("2026-06-28") + timedelta(seconds=301))
    assert key in sent_keys(service)
    service.close()
    bodies = [json.dumps(r.body) for r in slack_server.requests]
    assert sum("Maintenance ending" in body for body in bodies) == 1


def test_an_upgrade_resolves_a_finding_whose_only_delivered_notice_was_a_repeat(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    service = open_service(tmp_path, slack_server)
    service.ack("end_of_maintenance:prod-east:agent-1.3", until=at("2026-08-10"), now=at("2026-07-01"))
    service.notify(at("2026-07-28"))  # acked: the first notice is not sent
    service.notify(at("2026-08-11"))  # ack expired: repeat-2 goes out
    service.close()
    upgraded = open_service(tmp_path, slack_server, version="1.6.0")
    upgraded.notify(at("2026-08-12"))
    keys = sent_keys(upgraded)
    upgraded.close()
    assert "end_of_maintenance:prod-east:agent-1.3:repeat-2" in keys
    assert "resolved:end_of_maintenance:prod-east:agent-1.3" in keys
