"""The HTML pages: every finding on the dashboard, a page per deployment, error pages by
``Accept``, the example-data banner and the demo's mail pages."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from markupsafe import escape

from supportwatch.config import Settings, load_settings
from supportwatch.demo.mailbox import new_message_id
from supportwatch.notify.episodes import Episodes, FindingState, Seen
from supportwatch.notify.log import DeliveryKey, DeliveryLog, DeliveryState
from supportwatch.notify.message import Notice
from supportwatch.notify.payload import NoticePayload
from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW, SECRETS, WEBHOOK, open_service, write_config


def esc(text: str) -> str:
    """``text`` as the pages escape it (Jinja2's autoescape)."""
    return str(escape(text))


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1, None: 0}


# --- helpers the browser test shares ---------------------------------------------------------


def example_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """The every-finding fleet with ``example_data: true`` (as the demo writes it)."""
    path = write_config(tmp_path, sqlite_url)
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    raw["example_data"] = True
    path.write_text(yaml.safe_dump(raw))
    return load_settings(path)


def record_runs(service: Service, name: str) -> None:
    """What notify runs would have left about deployment ``name``: each finding's episode (the
    first resolved a day later), a notice sent per finding, one failed; and a notice about
    another deployment."""
    reports = {report.deployment.name: report for report in service.evaluate(NOW)}
    report = reports[name]
    episodes = Episodes(service.engine)
    seen = [
        Seen(
            f.dedup_key,
            f.kind.value,
            f.severity.value,
            name,
            f.team,
            Notice.of(f, report=report).to_payload(),
        )
        for f in report.findings
    ]
    earlier = NOW - timedelta(days=2)
    episodes.sync_findings(seen, now=earlier, superseded=lambda _: False)
    episodes.sync_findings(seen[1:], now=earlier + timedelta(days=1), superseded=lambda _: False)
    log = DeliveryLog(service.engine)
    for index, finding in enumerate(report.findings):
        notice = Notice.of(finding, report=report)
        key = DeliveryKey.finding(finding.dedup_key)
        payload = NoticePayload(notice).to_json()
        log.claim("platform/email", key, now=earlier, lease_seconds=60, summary=notice.title, payload=payload)
        if index == 0:
            error = f"550 mailbox unavailable; fell back to {WEBHOOK}"
            log.mark_failed("platform/email", [key], error=error, next_attempt_at=None)
        else:
            log.mark_sent("platform/email", [key], now=earlier)
    other = next(r for r in reports.values() if r.deployment.name != name and r.findings)
    notice = Notice.of(other.findings[0], report=other)
    log.claim(
        "analytics/slack",
        DeliveryKey.finding(other.findings[0].dedup_key),
        now=earlier,
        lease_seconds=60,
        summary=notice.title,
        payload=NoticePayload(notice).to_json(),
    )


def write_mail(folder: Path, *, subject: str, html_part: str | None, text: str) -> str:
    """Store a message as the demo's mail sink does; returns its id."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "supportwatch-demo@example.com"
    message["To"] = "data-platform@example.com"
    message.set_content(text)
    if html_part is not None:
        message.add_alternative(html_part, subtype="html")
    folder.mkdir(parents=True, exist_ok=True)
    message_id = new_message_id(NOW)
    (folder / f"{message_id}.eml").write_bytes(message.as_bytes())
    return message_id


def rows(page: str) -> dict[str, str]:
    """Each deployment row's HTML by name, in page order."""
    found = re.findall(r'<tr data-deployment="([^"]+)".*?</tr>', page, flags=re.S)
    chunks = re.findall(r'(<tr data-deployment="[^"]+".*?</tr>)', page, flags=re.S)
    return dict(zip(found, chunks, strict=True))


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    """The app on example data, its mailbox at ``<config folder>/mail``."""
    service = open_service(example_settings(tmp_path, sqlite_url))
    try:
        with TestClient(create_app(service.settings, service=service, clock=lambda: NOW)) as client:
            yield client
    finally:
        service.close()


# --- the dashboard ----------------------------------------------------------------------------


def test_every_finding_is_on_the_dashboard_worst_first(client: TestClient) -> None:
    document = client.get("/api/v1/deployments").json()
    page = client.get("/").text
    by_name = rows(page)
    assert sorted(by_name) == sorted(item["name"] for item in document["deployments"])
    ranks = [SEVERITY_RANK[item["worst_severity"]] for item in document["deployments"]]
    order = {item["name"]: SEVERITY_RANK[item["worst_severity"]] for item in document["deployments"]}
    assert [order[name] for name in by_name] == sorted(ranks, reverse=True)
    total = 0
    for item in document["deployments"]:
        row = by_name[item["name"]]
        assert f'<span class="badge state {item["state"]}">{item["state"]}</span>' in row
        if item["worst_severity"]:
            assert f'<span class="badge sev {item["worst_severity"]}">{item["worst_severity"]}</span>' in row
        assert f'href="/deployments/{item["name"]}"' in row
        listed = re.findall(r'<li class="finding" data-kind="([^"]+)" data-severity="([^"]+)"', row)
        assert listed == [(f["kind"], f["severity"]) for f in item["findings"]]
        for finding in item["findings"]:
            assert esc(finding["summary"]) in row
            assert esc(finding["remedy"]) in row
        if len(item["findings"]) > 1:
            assert "<details>" in row
        total += len(item["findings"])
    assert total > len(document["deployments"])  # several deployments carry more than one
    assert f"{total} findings in all" in page


def test_subscribe_links_per_team_from_the_request_host(client: TestClient) -> None:
    page = client.get("/").text
    for team in ("platform", "analytics"):
        assert f'href="webcal://testserver/calendar/{team}.ics"' in page
        assert f'href="http://testserver/calendar/{team}.ics"' in page
    assert 'href="webcal://testserver/calendar.ics"' in page
    proxied = client.get("/", headers={"Host": "sw.example.com:8443"}).text
    assert 'href="webcal://sw.example.com:8443/calendar/platform.ics"' in proxied
    # a Host header that is no host:port does not end up in a link
    odd = client.get("/", headers={"Host": 'evil"><b>x'}).text
    assert "evil" not in odd
    assert 'href="webcal://127.0.0.1:' in odd
    one = client.get("/?team=analytics").text
    assert "calendar/analytics.ics" in one
    assert "calendar/platform.ics" not in one


def test_the_timeline_marks_today_and_every_minor(client: TestClient) -> None:
    page = client.get("/").text
    assert '<svg class="timeline"' in page
    assert '<g class="today" data-day="2026-08-01">' in page
    minors = re.findall(
        r'<g class="bar (\w+)[^"]*" data-minor="([^"]+)" data-start="([^"]+)" data-end="([^"]+)"', page
    )
    assert ("ended", "1.3", "2026-01-10", "2026-07-10") in minors
    assert ("maintained", "1.6", "2026-04-16", "2026-10-16") in minors  # 76 days left
    assert ("ending", "1.5", "2026-03-02", "2026-09-02") in minors  # within the 60-day rung
    assert ("open", "2.0", "2026-07-15", "open") in minors
    assert " mine" not in page  # nothing is highlighted on the fleet's page
    running = re.findall(r"(\d+) tracked (deployments?) (runs?) it</title>", page)
    assert running and all(
        (n == "1") is ((noun, verb) == ("deployment", "runs")) for n, noun, verb in running
    )
    assert "(s)" not in page


def test_pages_are_self_contained(client: TestClient) -> None:
    for path in ("/", "/deployments/eol", "/no/such/page"):
        response = client.get(path, headers={"Accept": BROWSER})
        assert "<script" not in response.text.lower()
        assert not re.search(
            r"""(?:src|href)=["']?(?!webcal://testserver|http://testserver)[a-z]+://""", response.text
        )
        assert "default-src 'none'" in response.headers["content-security-policy"]


# --- a deployment's page ----------------------------------------------------------------------


def test_a_deployment_page_shows_its_findings_plan_and_timeline(client: TestClient) -> None:
    item = client.get("/api/v1/deployments/eol").json()
    response = client.get("/deployments/eol")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<h1 class="deployment" data-deployment="eol">eol</h1>' in page
    assert f'<span class="badge state {item["state"]}">' in page
    for finding in item["findings"]:
        assert esc(finding["summary"]) in page
        assert esc(finding["remedy"]) in page
    assert item["plan"], "eol needs a plan"
    for step in item["plan"]:
        assert esc(step["text"]) in page
    assert esc(item["target"]["blocked"]) in page  # eol must wait for its orchestration plane
    assert "3.1-9-python-3.11-astro-agent-1.3.1" in page  # the image it runs
    assert '<g class="bar ended mine" data-minor="1.3"' in page  # its own minor, highlighted
    assert page.count(" mine") == 1
    assert '<g class="today" data-day="2026-08-01">' in page
    assert "No notify or digest run has recorded" in page
    head = client.head("/deployments/eol")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == response.headers["content-length"]
    assert "Nothing was sent about this deployment yet." in page


def test_a_deployment_page_shows_what_runs_recorded_and_sent(service: Service, client: TestClient) -> None:
    record_runs(service, "eol")
    eol = next(report for report in service.evaluate(NOW) if report.deployment.name == "eol")
    history = service.finding_history("eol")
    assert {state.dedup_key for state in history} == {f.dedup_key for f in eol.findings}
    assert all(isinstance(state, FindingState) and state.deployment == "eol" for state in history)
    assert sum(state.resolved_at is not None for state in history) == 1
    deliveries = service.deliveries("eol")
    assert len(deliveries) == len(eol.findings)  # not the other deployment's notice
    assert [d.state for d in deliveries].count(DeliveryState.DEAD) == 1
    assert service.deliveries("nope") == [] and service.finding_history("nope") == []

    page = client.get("/deployments/eol").text
    history_part = page.split('id="history"')[1].split('id="deliveries"')[0]
    assert history_part.count("<tr>") == len(eol.findings) + 1  # and the header
    assert "resolved" in history_part and "open" in history_part
    sent = page.split('id="deliveries"')[1]
    assert sent.count('data-state="sent"') == len(eol.findings) - 1
    assert sent.count('data-state="dead"') == 1
    assert "550 mailbox unavailable; fell back to ***" in sent
    assert not [name for name, value in SECRETS.items() if value in page]
    assert "platform/email" in sent and "analytics/slack" not in sent


def test_a_deployment_not_tracked_is_a_404_page_or_json(client: TestClient) -> None:
    page = client.get("/deployments/nope", headers={"Accept": BROWSER})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1" in page.text and "no tracked deployment named &#39;nope&#39;" in page.text
    api = client.get("/deployments/nope", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.json() == {"detail": "no tracked deployment named 'nope'; the dashboard at / lists them"}


# --- error pages ------------------------------------------------------------------------------


def test_errors_are_html_for_browsers_and_json_for_api_clients(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": BROWSER})
    assert (page.status_code, page.headers["content-type"][:9]) == (404, "text/html")
    assert "There is no page at /no/such/page." in page.text
    assert client.get("/no/such/page").json() == {"detail": "Not Found"}
    team = client.get("/?team=nobody", headers={"Accept": BROWSER})
    assert (
        team.status_code == 404
        and "owns no tracked deployment; known teams: analytics, platform" in team.text
    )
    assert client.get("/calendar/nobody.ics").json() == {
        "detail": "team 'nobody' owns no tracked deployment; known teams: analytics, platform"
    }
    # the API stays JSON for API clients, HTML only when asked for
    assert client.get("/api/v1/deployments/nope").json()["detail"].startswith("no tracked deployment")
    assert client.get("/api/v1/releases?component=nope").status_code == 422
    invalid = client.get("/api/v1/releases?component=nope", headers={"Accept": BROWSER})
    assert invalid.status_code == 422 and "component" in invalid.text
    method = client.post("/", headers={"Accept": BROWSER})
    assert method.status_code == 405 and "Method Not Allowed" in method.text


def test_a_500_and_a_503_are_pages_too(service: Service) -> None:
    app = create_app(service.settings, service=service, clock=lambda: NOW)

    def boom() -> None:
        raise RuntimeError("secret internals")

    def busy() -> None:
        raise HTTPException(503, detail="back in a minute", headers={"Retry-After": "60"})

    assert isinstance(app, FastAPI)
    app.add_api_route("/boom", boom)
    app.add_api_route("/busy", busy)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/boom", headers={"Accept": BROWSER})
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "Internal Server Error" in page.text and "secret internals" not in page.text
        assert client.get("/boom").json() == {"detail": "Internal Server Error"}
        busy_page = client.get("/busy", headers={"Accept": BROWSER})
        assert busy_page.status_code == 503 and "back in a minute" in busy_page.text
        assert busy_page.headers["retry-after"] == "60"
        assert client.get("/busy").json() == {"detail": "back in a minute"}


# --- example data: the banner and the demo's mail ----------------------------------------------


def test_no_banner_and_no_mail_pages_on_real_data(client: TestClient) -> None:
    page = client.get("/").text
    assert "Example data" not in page
    assert "/demo/mail" not in page
    assert client.get("/demo/mail").status_code == 404


def test_the_banner_on_every_page_of_example_data(demo: TestClient) -> None:
    for path in ("/", "/deployments/eol", "/demo/mail", "/no/such/page"):
        page = demo.get(path, headers={"Accept": BROWSER}).text
        assert '<div class="banner" role="note"><strong>Example data.</strong>' in page, path
    assert 'href="/demo/mail"' in demo.get("/").text


def test_the_demo_mail_pages(demo: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    assert "No mail yet" in demo.get("/demo/mail").text
    plain = write_mail(folder, subject="Plain <one>", html_part=None, text="only text & more")
    rich = write_mail(
        folder,
        subject="[supportwatch] CRITICAL: End of maintenance on eol",
        html_part='<p>Agent <b>1.3</b> ended</p><script>alert("x")</script>',
        text="Agent 1.3 ended",
    )
    listing = demo.get("/demo/mail").text
    assert "Mail the demo sent (2)" in listing
    assert f'href="/demo/mail/{rich}"' in listing and f'href="/demo/mail/{plain}"' in listing
    assert "Plain &lt;one&gt;" in listing
    shown = demo.get(f"/demo/mail/{rich}")
    assert shown.status_code == 200
    [srcdoc] = re.findall(
        r'<iframe class="mail" sandbox title="[^"]*" srcdoc="([^"]*)"></iframe>', shown.text
    )
    assert html.unescape(srcdoc).startswith("<p>Agent <b>1.3</b> ended</p>")
    assert "<script" not in shown.text  # the message's script only inside the escaped srcdoc
    assert "Agent 1.3 ended" in shown.text  # the text part
    text_only = demo.get(f"/demo/mail/{plain}").text
    assert "<iframe" not in text_only and "only text &amp; more" in text_only


def test_the_demo_mail_pages_refuse_what_is_not_a_message(demo: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    write_mail(folder, subject="one", html_part=None, text="x")
    missing = new_message_id(NOW + timedelta(seconds=1))
    answer = demo.get(f"/demo/mail/{missing}", headers={"Accept": BROWSER})
    assert answer.status_code == 404 and "in the demo&#39;s mailbox" in answer.text
    assert demo.get(f"/demo/mail/{missing}").json()["detail"].startswith("no message")
    # a symlink with a message's name, leading to the config (with its secrets)
    link = new_message_id(NOW + timedelta(seconds=2))
    os.symlink(tmp_path / "supportwatch.yaml", folder / f"{link}.eml")
    for path in (
        f"/demo/mail/{link}",
        "/demo/mail/..%2Fsupportwatch.yaml",
        "/demo/mail/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/demo/mail/../supportwatch.yaml",
        "/demo/mail/supportwatch",
    ):
        response = demo.get(path)
        assert response.status_code == 404, path
        assert "smtp.example.com" not in response.text and "root:" not in response.text
