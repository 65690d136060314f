"""Golden outputs: the check table and JSON, one Slack message, one email and one digest rendered
from the same fixed reports, each showing the same state, end of maintenance and target; and a
run's notices (Slack and text) and the digest on Slack and in HTML.

The files under ``tests/golden/`` are the reviewed outputs; regenerate them after an intended
change with ``SUPPORTWATCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py`` and review
the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport, evaluate_one
from supportwatch.compatibility import CompatRule, Rules
from supportwatch.notify.digest import DigestInputs, build_digest, digest_lines
from supportwatch.notify.email import render_email, render_html
from supportwatch.notify.message import Message, Notice, deployment_url
from supportwatch.notify.slack_blocks import slack_payload, slack_payloads
from supportwatch.notify.text import plain_text
from supportwatch.policy import MaintenancePolicy
from supportwatch.report import check_document, check_table
from supportwatch.values import Deployment, Release
from supportwatch.versions import AgentVersion, ImageRef, RuntimeVersion

GOLDEN = Path(__file__).parent / "golden"
REPO = "images.astronomer.cloud/baseimages/astro-remote-execution-agent"
TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
PUBLIC_URL = "https://supportwatch.example.com"
RELEASES = [
    Release("agent", "1.6.0", date(2026, 4, 16), image_tags=("3.2-2-python-3.12-astro-agent-1.6.0",)),
    Release("agent", "1.6.1", date(2026, 5, 4), image_tags=("3.2-2-python-3.12-astro-agent-1.6.1",)),
    Release("agent", "1.7.0", date(2026, 11, 2), image_tags=("3.2-4-python-3.12-astro-agent-1.7.0",)),
    Release("chart", "2.0.0", date(2026, 5, 10)),
    Release("chart", "2.1.0", date(2026, 6, 5)),
]
RULES = Rules(compatibility=(CompatRule(SpecifierSet(">=2.0.0"), (SpecifierSet(">=1.5.0"),)),))


def _deployment(name: str, tag: str, chart: str, orch: str) -> Deployment:
    return Deployment(
        name=name,
        team="data-platform",
        image=ImageRef.parse(f"{REPO}:{tag}"),
        chart_version=AgentVersion.parse(chart),
        orchestration_runtime=RuntimeVersion.parse(orch),
        namespace="astro-agent",
        helm_release="agent",
    )


def reports() -> list[DeploymentReport]:
    """prod-east: 1.6 past its nominal end, pushed out by 1.7.0 (counts 2026-11-09): a warning
    naming that day and 1.7.0. prod-west: the same, with an orchestration plane too old for 1.7.0."""
    catalog = Catalog.build(RELEASES, policy=MaintenancePolicy(id="p", wording=""), today=TODAY)
    fleet = [
        _deployment("prod-east", "3.2-2-python-3.12-astro-agent-1.6.1", "2.0.0", "3.2-4"),
        _deployment("prod-west", "3.2-2-python-3.12-astro-agent-1.6.1", "2.1.0", "3.2-2"),
    ]
    return [evaluate_one(deployment, catalog, RULES) for deployment in fleet]


def renders() -> dict[str, str]:
    fixed = reports()
    east = fixed[0]
    # the first notice alone, and every notice of the two deployments as one run sends them
    notice = Notice.of(east.findings[0], report=east, url=deployment_url(PUBLIC_URL, "prod-east"))
    message = Message("data-platform", notices=(notice,))
    run = Message(
        "data-platform",
        notices=tuple(
            Notice.of(finding, report=report, url=deployment_url(PUBLIC_URL, report.deployment.name))
            for report in fixed
            for finding in report.findings
        ),
    )
    email = render_email(message, sender="supportwatch@example.com", to=["team@example.com"], now=NOW)
    digest = build_digest(
        DigestInputs(
            receiver="data-platform",
            week="2026-W45",
            today=TODAY,
            reports=fixed,
            urls={r.deployment.name: deployment_url(PUBLIC_URL, r.deployment.name) or "" for r in fixed},
        )
    )
    text_part, html_part = (part.get_content() for part in email.iter_parts())
    return {
        "check.txt": check_table(fixed) + "\n",
        "check.json": json.dumps(check_document(fixed, NOW), indent=2) + "\n",
        "slack.json": json.dumps(slack_payload(message), indent=2) + "\n",
        "slack-run.json": json.dumps(slack_payload(run), indent=2) + "\n",
        "email.txt": f"Subject: {email['Subject']}\n\n{text_part}",
        "email.html": html_part,
        "email-run.txt": plain_text(run) + "\n",
        "digest.txt": "\n".join(digest_lines(digest)) + "\n",
        "digest-slack.json": json.dumps(slack_payloads(Message("data-platform", digest=digest)), indent=2)
        + "\n",
        "digest.html": render_html(Message("data-platform", digest=digest)),
    }


@pytest.mark.parametrize("name", sorted(renders()))
def test_rendering_matches_the_golden_file(name: str) -> None:
    actual = renders()[name]
    path = GOLDEN / name
    if os.environ.get("SUPPORTWATCH_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


def test_every_surface_says_the_same_state_end_and_target() -> None:
    east = reports()[0]
    target = f"{REPO}:3.2-4-python-3.12-astro-agent-1.7.0"
    # worked by hand: 1.7.0 ships today and counts on 2026-11-09, so 1.6 (nominal end 2026-10-16)
    # ends on 2026-11-09; 1.6.1 is still the newest counted release: current, with a warning
    assert east.state.value == "current"
    assert east.end_of_maintenance == date(2026, 11, 9)
    for name, text in renders().items():
        assert "2026-11-09" in text, name
        assert target in text, name
        assert "current" in text, name
        assert "2026-10-16 (" not in text, name  # never the past nominal date as a deadline
