"""Typed payloads, and the JSON every supportwatch so far has stored: rows written before stay readable."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from supportwatch.notify.digest import DeploymentLine, Digest
from supportwatch.notify.message import Notice
from supportwatch.notify.payload import DigestPayload, NoticePayload, read_payload

# a delivery row's payload as an earlier version wrote it: no "state" or "end" in the notice
OLD_NOTICE: dict[str, Any] = {
    "notice": {
        "status": "firing",
        "kind": "maintenance_ending",
        "severity": "warning",
        "deployment": "prod-east",
        "team": "data-platform",
        "summary": "prod-east runs agent 1.3.0; agent 1.3 leaves maintenance on 2026-07-28",
        "remedy": "Upgrade to 3.1-9-python-3.12-astro-agent-1.6.0",
        "dedup_key": "maintenance_ending:prod-east:agent-1.3:rung-30",
        "end_of_maintenance": "2026-07-28",
        "days_left": 30,
        "repeat": 0,
    }
}
# and a digest from before the deployment lines carried "end" and "target"
OLD_DIGEST: dict[str, Any] = {
    "digest": {
        "receiver": "data-platform",
        "week": "2026-W27",
        "since": "2026-06-22T09:00:00+00:00",
        "deployments": [
            {
                "name": "prod-east",
                "team": "data-platform",
                "state": "behind",
                "agent_version": "1.3.0",
                "end_of_maintenance": "2026-07-28",
                "days_left": 29,
                "findings": 2,
                "worst": "warning",
            }
        ],
        "new_releases": ["agent 1.6.0 (released 2026-04-16)"],
        "state_changes": [],
        "new_findings": [],
        "resolved": [],
        "upcoming": ["prod-east: agent 1.3.0 leaves maintenance on 2026-07-28 (in 29 days)"],
        "health": [],
        "horizon_days": 90,
    }
}


def test_an_old_notice_row_is_read() -> None:
    payload = read_payload(OLD_NOTICE)
    assert isinstance(payload, NoticePayload)
    notice = payload.notice
    assert (notice.deployment, notice.end_of_maintenance, notice.days_left) == (
        "prod-east",
        date(2026, 7, 28),
        30,
    )
    assert (notice.state, notice.end) == (None, None)
    assert payload.to_json() == {"notice": {**OLD_NOTICE["notice"], "state": None, "end": None}}


def test_an_old_digest_row_is_read() -> None:
    payload = read_payload(OLD_DIGEST)
    assert isinstance(payload, DigestPayload)
    digest = payload.digest
    assert digest.week == "2026-W27"
    assert digest.states() == {"prod-east": "behind"}
    assert digest.deployments[0].end == digest.deployments[0].target == ""
    written = json.loads(json.dumps(payload.to_json()))["digest"]  # as the JSON column holds it
    assert written["deployments"][0] == {**OLD_DIGEST["digest"]["deployments"][0], "end": "", "target": ""}
    assert {k: v for k, v in written.items() if k != "deployments"} == {
        k: v for k, v in OLD_DIGEST["digest"].items() if k != "deployments"
    }


def test_what_is_written_is_read_back_alike() -> None:
    notice = Notice.from_payload(OLD_NOTICE["notice"])
    assert NoticePayload.from_json(NoticePayload(notice).to_json()) == NoticePayload(notice)
    digest = Digest(
        "data-platform",
        "2026-W28",
        None,
        deployments=(DeploymentLine("prod-east", "t", "current", "1.6.0", None, None, 0, None),),
        health=("source_stale: agent-notes",),
    )
    assert read_payload(DigestPayload(digest).to_json()) == DigestPayload(digest)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, ValueError),
        ({"something": {}}, ValueError),
        ({"notice": {"no": "such fields"}}, TypeError),
        ({"digest": {"receiver": "r"}}, KeyError),
    ],
)
def test_an_unreadable_payload_raises(data: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        read_payload(data)
