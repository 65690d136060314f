"""The offline demo's engine: example data, the loopback vendor server, the mail sink, ``start_demo``.

Every server here listens on 127.0.0.1 only, and every day is passed in: the example data is
dated relative to ``today``, so the same finding kinds come out whatever day the tests run.
"""

from __future__ import annotations

import smtplib
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from supportwatch.checks import evaluate
from supportwatch.config import AstroUpdatesSource, FeedSource, HelmSource, Settings, load_settings
from supportwatch.demo.examples import (
    DEMO_SETTINGS_FLAG,
    DEPLOYMENTS_FILE,
    VendorFile,
    deployments_yaml,
    render_config,
    render_vendor_files,
)
from supportwatch.demo.mailbox import Mailbox, MessageNotFound
from supportwatch.demo.runner import Demo, flag_supported, start_demo
from supportwatch.demo.sink import MailSink
from supportwatch.demo.vendor import VendorServer
from supportwatch.service import Service
from supportwatch.sources.astro_updates import parse_astro_updates
from supportwatch.sources.feed import parse_feed
from supportwatch.sources.helm import parse_helm_index
from supportwatch.sources.result import Parsed
from supportwatch.values import FindingKind, Release

HEALTH_KINDS = {FindingKind.SOURCE_STALE, FindingKind.DATE_CONFLICT}
DEPLOYMENT_KINDS = set(FindingKind) - HEALTH_KINDS
# a mid-year day, a month's end, a leap day, and whatever today is
TODAYS = [date(2026, 8, 1), date(2027, 2, 28), date(2028, 2, 29), datetime.now(UTC).date()]


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def example_settings(folder: Path, today: date, *, vendor_url: str = "http://127.0.0.1:9") -> Settings:
    """The demo's config for ``today``, written into ``folder`` and loaded as the service loads it."""
    (folder / DEPLOYMENTS_FILE).write_bytes(deployments_yaml())
    config = folder / "supportwatch.yaml"
    config.write_text(
        render_config(
            today=today,
            database_url=f"sqlite:///{folder / 'demo.db'}",
            vendor_url=vendor_url,
            smtp_port=2525,
            web_port=8099,
            flag=flag_supported(),
        ),
        encoding="utf-8",
    )
    return load_settings(config)


def parse(source: AstroUpdatesSource | HelmSource | FeedSource, body: bytes) -> Parsed:
    """``body`` read by the parser the source's kind uses, with the source's own options."""
    if isinstance(source, AstroUpdatesSource):
        return parse_astro_updates(body, component=source.component, channels=tuple(source.channels))
    if isinstance(source, HelmSource):
        return parse_helm_index(body, chart=source.chart)
    return parse_feed(
        body,
        component=source.component,
        version_pattern=source.version_pattern,
        date_pattern=source.date_pattern,
    )


def parsed_by_source(settings: Settings, today: date) -> dict[str, tuple[Release, ...]]:
    files = {file.source: file for file in render_vendor_files(today)}
    found: dict[str, tuple[Release, ...]] = {}
    for source in settings.sources:
        if isinstance(source, (AstroUpdatesSource, HelmSource, FeedSource)) and source.name in files:
            found[source.name] = parse(source, files[source.name].body).releases
    return found


def reconciled(settings: Settings, by_source: dict[str, tuple[Release, ...]]) -> list[Release]:
    """The catalog as the store reconciles it: the most trusted source's date and channel,
    any source's yank, every source's image tags."""
    merged: dict[tuple[str, str], Release] = {}
    for name in settings.source_priority():
        for release in by_source.get(name, ()):
            key = (release.component, release.version)
            known = merged.get(key)
            if known is None:
                merged[key] = release
                continue
            merged[key] = Release(
                known.component,
                known.version,
                known.released_on or release.released_on,
                known.app_version or release.app_version,
                tuple(sorted({*known.image_tags, *release.image_tags})),
                known.channel,
                known.yanked or release.yanked,
            )
    return list(merged.values())


def kinds_by_deployment(settings: Settings, today: date) -> dict[str, set[FindingKind]]:
    releases = reconciled(settings, parsed_by_source(settings, today))
    reports = evaluate(
        settings.deployment_values(),
        releases,
        settings.maintenance_policy(),
        rules=settings.rules(),
        now=noon(today),
    )
    return {report.deployment.name: {finding.kind for finding in report.findings} for report in reports}


# --- the example data -----------------------------------------------------------------------


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_rendered_files_parse_with_the_projects_parsers_dated_from_today(tmp_path: Path, today: date) -> None:
    settings = example_settings(tmp_path, today)
    by_source = parsed_by_source(settings, today)
    assert set(by_source) == {"agent-versions", "runtime-versions", "chart-index", "agent-notes"}
    for name, releases in by_source.items():
        assert releases, name
        days = [release.released_on for release in releases if release.released_on is not None]
        assert all(today - timedelta(days=420) <= day <= today for day in days), name

    def offsets(name: str) -> dict[str, int | None]:
        return {
            r.version: None if r.released_on is None else (r.released_on - today).days
            for r in by_source[name]
        }

    agents = offsets("agent-versions")
    assert agents["2.0.1"] == -12
    assert agents["1.6.0"] == -150
    assert agents["1.7.0"] == -62
    assert offsets("agent-notes")["1.7.0"] == -58  # the release notes' date: the demo's date_conflict
    assert offsets("chart-index") == {
        "2.3.0": -20, "2.2.1": -44, "2.1.0": -100, "2.0.0": -140, "1.5.0": -205, "1.4.0": None,
    }  # fmt: skip
    assert offsets("agent-notes")["2.0.0"] == -25  # not the "Helm chart 2.0.0" entry's -140
    beta = next(r for r in by_source["agent-versions"] if r.version == "2.1.0-rc.1")
    assert beta.channel == "beta"
    assert [r.version for r in by_source["agent-versions"] if r.yanked] == ["1.7.2"]
    assert [r.version for r in by_source["runtime-versions"] if r.yanked] == ["3.2-4"]


def test_the_feed_keeps_the_vendors_quirks() -> None:
    today = date(2026, 8, 1)
    feed = next(file for file in render_vendor_files(today) if file.source == "agent-notes")
    assert feed.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"')
    # midnight London in GMT: the evening before in summer ("Release date:" is the day that counts)
    # agent 1.7.2, out 38 days before: 2026-06-24
    assert b"<pubDate>Tue, 23 Jun 2026 23:00:00 GMT</pubDate>" in feed.body
    assert b"Release date: June 24, 2026" in feed.body
    assert b"<pubDate>Tue, 13 Jan 2026 00:00:00 GMT</pubDate>" in feed.body  # agent 1.5.0: winter
    assert b"<title>Helm chart 2.0.0</title>" in feed.body  # an older chart entry, kept out by the pattern
    unfiltered = parse_feed(feed.body, component="agent")  # without the source's version_pattern ...
    [agent_2] = [release for release in unfiltered.releases if release.version == "2.0.0"]
    assert agent_2.released_on == today - timedelta(days=140)  # ... chart 2.0.0's day would date agent 2.0.0


def test_example_config_loads_and_stays_on_loopback(tmp_path: Path) -> None:
    settings = example_settings(tmp_path, date(2026, 8, 1), vendor_url="http://127.0.0.1:4321")
    assert settings.database_url == f"sqlite:///{tmp_path / 'demo.db'}"
    assert [str(network) for network in settings.http.allow_networks] == ["127.0.0.0/8"]
    assert not settings.http.allow_private_networks
    urls = [getattr(source, "url", "") for source in settings.sources]
    assert urls and all(url.startswith("http://127.0.0.1:4321/") for url in urls)
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == ("127.0.0.1", 2525, "none")
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8099)
    assert settings.default_receiver == "console"
    assert [(route.match.team, route.receiver) for route in settings.routes] == [
        ("data-platform", "data-platform-mail")
    ]
    teams = {deployment.team for deployment in settings.deployment_values()}
    assert teams == {"data-platform", "analytics"}
    raw = yaml.safe_load((tmp_path / "supportwatch.yaml").read_text(encoding="utf-8"))
    assert (raw.get(DEMO_SETTINGS_FLAG) is True) is flag_supported()


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_example_deployments_raise_every_deployment_finding_kind(tmp_path: Path, today: date) -> None:
    found = kinds_by_deployment(example_settings(tmp_path, today), today)
    assert set().union(*found.values()) == DEPLOYMENT_KINDS
    assert found["prod-current"] == set()
    assert found["prod-east"] >= {
        FindingKind.MAINTENANCE_ENDING,
        FindingKind.BEHIND_LATEST_PATCH,
        FindingKind.BEHIND_LATEST_MINOR,
    }


def test_two_todays_give_the_same_findings(tmp_path: Path) -> None:
    first, second = date(2026, 5, 31), date(2031, 11, 30)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert kinds_by_deployment(example_settings(tmp_path / "a", first), first) == kinds_by_deployment(
        example_settings(tmp_path / "b", second), second
    )


def test_render_config_refuses_an_environment_reference() -> None:
    with pytest.raises(ValueError, match=r"\$\{"):
        render_config(
            today=date(2026, 8, 1),
            database_url="sqlite:////tmp/${HOME}/demo.db",
            vendor_url="http://127.0.0.1:1",
            smtp_port=25,
            web_port=0,
            flag=False,
        )


# --- the vendor server ----------------------------------------------------------------------


# no proxy from the environment: these requests go to 127.0.0.1 and nowhere else
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with DIRECT.open(request, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    files = [
        VendorFile("/updates/astro-agent", "agent-versions", b'{"clientVersions": {}}', "application/json"),
        VendorFile("/helm/index.yaml", "chart-index", b"apiVersion: v1\n", "application/yaml"),
    ]
    with VendorServer(files, modified=datetime(2026, 8, 1, 6, 0, 0, 123, tzinfo=UTC)) as server:
        yield server


def test_vendor_server_serves_files_with_validators(vendor: VendorServer) -> None:
    assert vendor.url.startswith("http://127.0.0.1:")
    status, headers, body = fetch(vendor.url_of("/updates/astro-agent?channel=stable"))
    assert (status, body) == (200, b'{"clientVersions": {}}')
    assert headers["Content-Type"] == "application/json"
    assert headers["Last-Modified"] == "Sat, 01 Aug 2026 06:00:00 GMT"
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert fetch(vendor.url_of("/helm/index.yaml"))[1]["Content-Type"] == "application/yaml"

    assert fetch(vendor.url_of("/updates/astro-agent"), {"If-None-Match": etag})[:3:2] == (304, b"")
    assert fetch(vendor.url_of("/updates/astro-agent"), {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert fetch(vendor.url_of("/updates/astro-agent"), {"If-None-Match": '"other"'})[0] == 200
    since = {"If-Modified-Since": "Sat, 01 Aug 2026 06:00:00 GMT"}
    assert fetch(vendor.url_of("/updates/astro-agent"), since)[0] == 304
    earlier = {"If-Modified-Since": "Fri, 31 Jul 2026 06:00:00 GMT"}
    assert fetch(vendor.url_of("/updates/astro-agent"), earlier)[0] == 200
    assert fetch(vendor.url_of("/updates/astro-agent"), {"If-Modified-Since": "yesterday"})[0] == 200
    naive = {"If-Modified-Since": "Sat, 01 Aug 2026 06:00:00 -0000"}  # no zone said: read as UTC
    assert fetch(vendor.url_of("/updates/astro-agent"), naive)[0] == 304

    status, headers, body = fetch(vendor.url_of("/updates/astro-agent"), method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "22")
    assert fetch(vendor.url_of("/docs/astro/runtime-release-notes/rss.xml"))[0] == 404
    assert fetch(vendor.url_of("/../updates/astro-agent"))[0] == 404


def test_a_client_that_resets_the_connection_is_no_error(
    vendor: VendorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A poll that stops reading a 404 closes with a reset: the server ends that connection
    quietly (no traceback on the demo's console) and goes on serving."""
    request = f"GET /missing HTTP/1.1\r\nHost: 127.0.0.1:{vendor.port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", vendor.port)) as client:
        client.sendall(request)
        time.sleep(0.2)  # the 404 is in the client's buffer, unread
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.2)  # the server's next read meets the reset
    assert fetch(vendor.url_of("/helm/index.yaml"))[0] == 200
    assert "Traceback" not in capsys.readouterr().err


def test_vendor_server_releases_its_port_on_close() -> None:
    server = VendorServer([]).start()
    url = server.url
    server.close()
    server.close()  # idempotent
    with pytest.raises(urllib.error.URLError):
        DIRECT.open(url + "/", timeout=2)


# --- the mail sink and the mailbox ----------------------------------------------------------


def send(port: int, subject: str, to: str = "data-platform@example.com") -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "supportwatch-demo@example.com"
    message["To"] = to
    message["Date"] = "Sat, 01 Aug 2026 09:00:00 +0000"
    message.set_content("prod-east leaves maintenance soon.\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def test_mail_sink_stores_each_message_and_the_mailbox_lists_and_reads_it(tmp_path: Path) -> None:
    with MailSink(tmp_path / "mail") as sink:
        send(sink.port, "[example data] 3 notices for data-platform (worst: critical) \u2713")
        send(sink.port, "second")
        mailbox = Mailbox(tmp_path / "mail")
        messages = mailbox.messages()
    assert [message.subject for message in messages] == [
        "second",
        "[example data] 3 notices for data-platform (worst: critical) \u2713",
    ]  # newest first
    first = messages[1]
    assert first.from_ == "supportwatch-demo@example.com"
    assert first.to == "data-platform@example.com"
    assert first.date == datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
    assert first.path == tmp_path / "mail" / f"{first.id}.eml"
    assert first.path.is_file()
    raw = mailbox.read(first.id)
    assert len(raw) == first.size
    assert raw.startswith(
        b"Return-Path: <supportwatch-demo@example.com>\r\nX-Original-To: data-platform@example.com\r\n"
    )
    assert b"prod-east leaves maintenance soon." in raw
    assert mailbox.summary(first.id) == first
    assert mailbox.messages(limit=1) == messages[:1]
    assert [path.name for path in (tmp_path / "mail").iterdir() if not path.name.endswith(".eml")] == []


def test_mailbox_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert Mailbox(tmp_path / "none").messages() == []


def test_mail_sink_answers_451_when_it_cannot_store(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with MailSink(tmp_path / "mail") as sink:
        (tmp_path / "mail").rmdir()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(sink.port, "lost")
    assert refused.value.smtp_code == 451
    assert "cannot store a message" in caplog.text
    assert Mailbox(tmp_path / "mail").messages() == []


@pytest.mark.parametrize(
    "message_id",
    [
        "../supportwatch.yaml",
        "..",
        "/etc/passwd",
        "20260801T090000000000Z-0123abcd/../../secret",
        "20260801T090000000000Z-0123abcd.eml",
        "20260801T090000000000Z-0123ABCD",
        "20260801T090000000000Z-0123abcd\n",
        "20261399T990000000000Z-0123abcd",  # the form, but no time
        "..%2Fsecret",
        "",
        "20260801T090000000000Z-0123abcd",  # the right form, but no such message
    ],
)
def test_mailbox_ids_cannot_escape_the_folder(tmp_path: Path, message_id: str) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    (tmp_path / "secret").write_bytes(b"Subject: secret\r\n\r\nnot for the dashboard\r\n")
    mailbox = Mailbox(folder)
    with pytest.raises(MessageNotFound):
        mailbox.read(message_id)
    with pytest.raises(MessageNotFound):
        mailbox.summary(message_id)


def test_mailbox_follows_no_symlink(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    secret = tmp_path / "secret.eml"
    secret.write_bytes(b"Subject: secret\r\n\r\nnot for the dashboard\r\n")
    planted = "20260801T090000000000Z-0123abcd"
    (folder / f"{planted}.eml").symlink_to(secret)
    (folder / "20260801T090000000000Z-fedcba98.eml").mkdir()  # a folder with a message's name
    mailbox = Mailbox(folder)
    assert mailbox.messages() == []
    with pytest.raises(MessageNotFound):
        mailbox.read(planted)
    with pytest.raises(MessageNotFound):
        mailbox.read("20260801T090000000000Z-fedcba98")


def test_mailbox_lists_a_message_with_broken_headers(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    message_id = "20260801T090000000000Z-0123abcd"
    (folder / f"{message_id}.eml").write_bytes(
        b"Subject: =?utf-8?q?broken\x1b[31m\r\nDate: not a date\r\n\r\nbody\r\n"
    )
    (folder / "notes.txt").write_text("not a message")
    other = "20260801T100000000000Z-0123abce"
    (folder / f"{other}.eml").write_bytes(
        b"Subject: no zone\r\nDate: Sat, 01 Aug 2026 11:00:00 -0000\r\n\r\nbody\r\n"
    )
    undated = "20260801T110000000000Z-0123abcf"
    (folder / f"{undated}.eml").write_bytes(b'From: "\r\nSubject: no date\r\n\r\nbody\r\n')
    no_date, no_zone, summary = Mailbox(folder).messages()
    assert no_date.date == datetime(2026, 8, 1, 11, 0, tzinfo=UTC)
    assert no_date.from_ == '"'  # a From the parser chokes on is shown as written
    assert no_zone.date == datetime(2026, 8, 1, 11, 0, tzinfo=UTC)
    assert "\x1b" not in summary.subject
    assert (summary.from_, summary.to) == ("", "")
    assert summary.date == datetime(2026, 8, 1, 9, 0, tzinfo=UTC)  # from the id: when it arrived


# --- start_demo -----------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with start_demo(tmp_path / "demo", today=date(2026, 8, 1), web_port=8765) as running:
        yield running


def test_start_demo_is_ready_with_both_servers_answering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    with start_demo(tmp_path / "demo", today=date(2026, 8, 1), web_port=8765) as demo:
        settings = load_settings(demo.config_path)
        for source in settings.sources:
            url = getattr(source, "url", None)
            assert url is not None and url.startswith(demo.vendor_url + "/")
            status = fetch(url, method="HEAD")[0]
            assert status == (404 if source.name == "runtime-notes" else 200), source.name
        with smtplib.SMTP("127.0.0.1", demo.smtp_port, timeout=5) as client:
            assert client.noop()[0] == 250
        elapsed = time.perf_counter() - started
        with capsys.disabled():
            print(f"\nstart_demo: config written and checked, both servers answering after {elapsed:.3f} s")
        assert demo.example_data is True
        assert demo.flag_in_config is flag_supported()
        assert demo.web_url == "http://127.0.0.1:8765/"
        assert demo.config_path == demo.folder / "supportwatch.yaml"
        assert (demo.folder / DEPLOYMENTS_FILE).read_bytes() == deployments_yaml()
        assert settings.database_url == f"sqlite:///{demo.folder / 'supportwatch.db'}"
        assert settings.smtp is not None and settings.smtp.port == demo.smtp_port
        assert settings.web.port == 8765
        assert demo.mailbox.folder == demo.mailbox_dir == demo.folder / "mail"
        described = demo.describe()
        assert "EXAMPLE DATA" in described and demo.vendor_url in described
        # the source that fails on purpose is named, and is the configured one
        assert "one source (runtime-notes) fails on purpose" in described
        assert "runtime-notes" in {source.name for source in settings.sources}


def test_start_demo_stops_its_servers_on_close(tmp_path: Path) -> None:
    demo = start_demo(tmp_path, today=date(2026, 8, 1), web_port=0)
    vendor_url, port = demo.vendor_url, demo.smtp_port
    demo.close()
    demo.close()
    with pytest.raises(urllib.error.URLError):
        DIRECT.open(vendor_url + "/updates/astro-agent", timeout=2)
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)


def test_start_demo_stops_its_servers_when_the_config_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\$\{"):
        start_demo(tmp_path / "${HOME}", today=date(2026, 8, 1), web_port=0)
    assert not [thread for thread in threading.enumerate() if thread.name == "supportwatch-demo-vendor"]


def test_start_demo_stops_the_vendor_server_when_the_sink_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Controller) -> None:
        raise OSError("no mail today")

    monkeypatch.setattr(Controller, "start", refuse)
    with pytest.raises(OSError, match="no mail today"):
        start_demo(tmp_path, today=date(2026, 8, 1), web_port=0)
    assert not [thread for thread in threading.enumerate() if thread.name == "supportwatch-demo-vendor"]


def test_the_service_on_the_demo_finds_every_kind_and_mails_the_team(demo: Demo) -> None:
    """The whole path: the service polls the vendor server through its own fetcher and
    address guard, evaluates, and delivers email to the sink and the rest to the console."""
    now = noon(demo.today)
    service = Service.open(load_settings(demo.config_path))
    try:
        outcomes = {outcome.source: outcome.status for outcome in service.poll(now)}
        assert outcomes == {
            "agent-versions": "fetched",
            "runtime-versions": "fetched",
            "chart-index": "fetched",
            "agent-notes": "fetched",
            "runtime-notes": "failed",
        }
        health = service.health_findings(now)
        kinds = {finding.kind for report in service.evaluate(now) for finding in report.findings}
        assert kinds | {finding.kind for finding in health} == set(FindingKind)
        assert {finding.subject for finding in health} == {"runtime-notes", "agent 1.7.0"}
        assert service.notify(now).failures == []
        again = {outcome.source: outcome.status for outcome in service.poll(now)}
        assert again["agent-versions"] == again["chart-index"] == "unchanged"  # 304: ETag honoured
    finally:
        service.close()
    [mail] = demo.mailbox.messages()
    assert mail.to == "data-platform@example.com"
    assert "data-platform" in mail.subject
    assert b"prod-east" in demo.mailbox.read(mail.id)
