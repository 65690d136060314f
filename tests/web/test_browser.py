"""The dashboard in a real browser: headless Chromium against a real uvicorn on 127.0.0.1.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port,
messages are NUL-terminated JSON on file descriptors 3 and 4), with the flags that stop it
calling home. It measures what a person sees: the rows and badges match the JSON API, every
finding can be opened and read, the timeline's "today" line falls inside the windows open
today and after the ended ones, no page scrolls sideways at 400 px, every request a page makes
goes to the test server, and a shown email's remote image is never fetched. Screenshots are kept in ``bench/out/screens/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from supportwatch.service import Service
from supportwatch.web import create_app

from .fleet import NOW, open_service
from .served import serving
from .test_pages import example_settings, record_runs, write_mail

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
TIMEOUT = 30.0
# no first-run UI, no background or component downloads, no sync, no browser-default prompt:
# the only connections the browser makes are the pages' own, to 127.0.0.1
QUIET = [
    "--headless=new",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-pings",
    "--mute-audio",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
DESKTOP, PHONE = 1280, 400
# moves the pipe's ends to descriptors 3 and 4 (copies first: either may be 3 or 4 already), then
# becomes Chromium; no preexec_fn, which is unsafe while uvicorn's thread runs
TRAMPOLINE = """import os, sys
ends = [os.dup({commands}), os.dup({answers})]
for target, end in zip((3, 4), ends):
    os.dup2(end, target)
    os.set_inheritable(target, True)
os.execv(sys.argv[1], sys.argv[1:])
"""


class DevTools:
    """One Chromium, driven over ``--remote-debugging-pipe``; ``call`` sends one command and
    waits for its answer, keeping the events that arrive meanwhile."""

    def __init__(self, profile: Path, log: Path) -> None:
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        flags = [*QUIET, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
        # the pipe must be descriptors 3 (commands in) and 4 (answers out) in the browser
        script = TRAMPOLINE.format(commands=to_browser, answers=from_browser)
        with log.open("wb") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-c", script, CHROMIUM, *flags],
                pass_fds=(to_browser, from_browser),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive(method)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        """The first kept event named ``event`` of ``session`` (removed), waiting for it."""
        while True:
            for index, item in enumerate(self.events):
                if item.get("method") == event and item.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(self._receive(event))

    def _receive(self, waiting_for: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                pytest.fail(f"Chromium did not answer {waiting_for} within {TIMEOUT:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                pytest.fail(f"Chromium exited (status {self.process.poll()}) while waiting for {waiting_for}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        answer: dict[str, Any] = json.loads(message)
        return answer

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.call("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, pytest.fail.Exception):
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


class Tab:
    """One page in the browser, ``width`` CSS pixels wide, recording every request it makes."""

    def __init__(self, browser: DevTools, width: int) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session: str = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")
        self.resize(width)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.call(method, params, self.session)

    def resize(self, width: int) -> None:
        self.width = width
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def open(self, url: str) -> None:
        answer = self.call("Page.navigate", {"url": url})
        assert "errorText" not in answer, answer
        self.browser.wait_for("Page.loadEventFired", self.session)

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return answer["result"].get("value")

    def screenshot(self, name: str) -> Path:
        SCREENS.mkdir(parents=True, exist_ok=True)
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path = SCREENS / f"{name}-{self.width}.png"
        path.write_bytes(base64.b64decode(data))
        return path

    def requested(self) -> list[str]:
        """The URLs this tab requested so far."""
        return [
            str(event["params"]["request"]["url"])
            for event in self.browser.events
            if event.get("method") == "Network.requestWillBeSent" and event.get("sessionId") == self.session
        ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium is needed at {CHROMIUM} for the browser tests: apt-get install chromium")
    folder = tmp_path_factory.mktemp("chromium")
    devtools = DevTools(folder / "profile", folder / "chromium.log")
    try:
        assert devtools.call("Browser.getVersion")["product"].startswith(("HeadlessChrome", "Chrome"))
        yield devtools
    finally:
        devtools.close()


@pytest.fixture
def demo_service(tmp_path: Path, sqlite_url: str) -> Iterator[Service]:
    """The every-finding fleet on example data, with runs recorded for ``eol``."""
    service = open_service(example_settings(tmp_path, sqlite_url))
    record_runs(service, "eol")
    yield service
    service.close()


class Recorder:
    """The app, noting the path of every HTTP request the server gets (iframes' included)."""

    def __init__(self, app: ASGIApp, paths: list[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(str(scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture
def served() -> list[str]:
    """The paths the test server was asked for."""
    return []


@pytest.fixture
def base_url(demo_service: Service, served: list[str]) -> Iterator[str]:
    app = Recorder(create_app(demo_service.settings, service=demo_service, clock=lambda: NOW), served)
    with serving(app) as url:
        yield url


@pytest.fixture
def tab(browser: DevTools) -> Iterator[Tab]:
    page = Tab(browser, DESKTOP)
    yield page
    browser.call(
        "Target.closeTarget", {"targetId": page.call("Target.getTargetInfo")["targetInfo"]["targetId"]}
    )
    browser.events.clear()


def only_local(tab: Tab, base_url: str) -> None:
    """Every request the tab made went to the test server (or was inline)."""
    strays = [url for url in tab.requested() if not url.startswith((base_url + "/", "data:", "about:"))]
    assert strays == []


ROWS = """JSON.stringify([...document.querySelectorAll('tr[data-deployment]')].map(tr => ({
  name: tr.dataset.deployment,
  state: tr.querySelector('.badges .badge.state').textContent,
  severity: tr.querySelector('.badges .badge.sev:not(.none)')?.textContent ?? null,
  agent: tr.querySelector('td.agent').textContent.trim(),
  end: tr.querySelector('td.end').textContent.trim(),
  findings: [...tr.querySelectorAll('ol.findings > li')].map(li => ({
    kind: li.dataset.kind, severity: li.dataset.severity,
    summary: li.querySelector('.summary').textContent, remedy: li.querySelector('.remedy').textContent})),
})))"""

OPEN_ALL = """(() => { document.querySelectorAll('details').forEach(d => { d.open = true; });
  return JSON.stringify([...document.querySelectorAll('tr[data-deployment] ol.findings > li')].map(li => ({
    shown: li.getClientRects().length > 0 && li.getBoundingClientRect().height > 0,
    text: li.innerText }))); })()"""

TIMELINE = """(() => { const svg = document.querySelector('svg.timeline');
  const line = svg.querySelector('g.today line').getBoundingClientRect();
  return JSON.stringify({
    day: svg.querySelector('g.today').dataset.day, x: line.left + line.width / 2, height: line.height,
    label: svg.querySelector('g.today text').textContent,
    bars: [...svg.querySelectorAll('g.bar')].map(g => { const r = g.querySelector('rect').getBoundingClientRect();
      return {minor: g.dataset.minor, start: g.dataset.start, end: g.dataset.end, mine: g.classList.contains('mine'),
              left: r.left, right: r.right}; }) }); })()"""

WIDTH = "JSON.stringify({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"


def test_rows_and_badges_match_the_api_and_every_finding_opens(tab: Tab, base_url: str) -> None:
    document = httpx.get(f"{base_url}/api/v1/deployments", timeout=10).json()
    tab.open(base_url + "/")
    shown = {row["name"]: row for row in json.loads(tab.evaluate(ROWS))}
    assert sorted(shown) == sorted(item["name"] for item in document["deployments"])
    for item in document["deployments"]:
        row = shown[item["name"]]
        assert (row["state"], row["severity"]) == (item["state"], item["worst_severity"])
        assert row["agent"] == (item["agent_version"] or "unknown")
        end = item["end_of_maintenance"] or ("open" if item["end_of_maintenance_open"] else "\u2013")
        assert row["end"].startswith(end)
        expected = [{k: f[k] for k in ("kind", "severity", "summary", "remedy")} for f in item["findings"]]
        assert row["findings"] == expected
    # closed, the findings past the first are out of sight; opened, every one can be read
    opened = json.loads(tab.evaluate(OPEN_ALL))
    assert len(opened) == sum(len(item["findings"]) for item in document["deployments"])
    assert all(item["shown"] for item in opened)
    texts = "\n".join(item["text"] for item in opened)
    for item in document["deployments"]:
        for finding in item["findings"]:
            assert finding["summary"] in texts and finding["remedy"] in texts
    tab.screenshot("dashboard-open")
    only_local(tab, base_url)


def check_today(timeline: dict[str, Any], today: date) -> None:
    """The today line is drawn, inside every window open today, right of every ended one."""
    assert timeline["day"] == today.isoformat() and timeline["label"] == "today"
    assert timeline["height"] > 20
    x = timeline["x"]
    for bar in timeline["bars"]:
        start = date.fromisoformat(bar["start"])
        end = None if bar["end"] == "open" else date.fromisoformat(bar["end"])
        if start <= today and (end is None or today < end):
            assert bar["left"] <= x <= bar["right"], bar
        elif end is not None and end <= today:
            assert bar["right"] <= x + 1, bar
        else:
            assert bar["left"] >= x - 1, bar


def test_the_timeline_marks_today(tab: Tab, base_url: str) -> None:
    tab.open(base_url + "/")
    fleet = json.loads(tab.evaluate(TIMELINE))
    check_today(fleet, NOW.date())
    assert {bar["minor"] for bar in fleet["bars"]} >= {"1.0", "1.3", "1.6", "1.7", "2.0"}
    assert not any(bar["mine"] for bar in fleet["bars"])
    tab.open(base_url + "/deployments/eol")
    own = json.loads(tab.evaluate(TIMELINE))
    check_today(own, NOW.date())
    assert [bar["minor"] for bar in own["bars"] if bar["mine"]] == ["1.3"]
    tab.screenshot("deployment-eol")
    only_local(tab, base_url)


def test_no_page_scrolls_sideways_at_400_px(
    tab: Tab, base_url: str, served: list[str], tmp_path: Path
) -> None:
    names = [
        item["name"] for item in httpx.get(f"{base_url}/api/v1/deployments", timeout=10).json()["deployments"]
    ]
    message = write_mail(
        tmp_path / "mail",
        subject="[supportwatch] CRITICAL: End of maintenance on eol",
        html_part=(
            "<h1>End of maintenance on eol</h1><p>Move to images.astronomer.cloud/baseimages/"
            "astro-remote-execution-agent:3.2-5-python-3.12-astro-agent-1.7.1</p>"
            f'<img src="{base_url}/tracking.png" alt="">'
        ),
        text="Move to the fixed tag.",
    )
    pages = {
        "dashboard": "/",
        "team": "/?team=analytics",
        **{f"deployment-{name}": f"/deployments/{name}" for name in names},
        "not-found": "/no/such/page",
        "mail": "/demo/mail",
        "mail-message": f"/demo/mail/{message}",
    }
    tab.resize(PHONE)
    wide = {}
    for name, path in pages.items():
        tab.open(base_url + path)
        tab.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        measured = json.loads(tab.evaluate(WIDTH))
        assert measured["inner"] == PHONE
        if measured["scroll"] > PHONE:
            wide[name] = measured["scroll"]
        tab.screenshot(name)
    assert wide == {}, f"pages wider than {PHONE} px: {wide} (see {SCREENS})"
    # the shown email's remote image is blocked by the page's Content-Security-Policy (the
    # sandboxed iframe may run in a process of its own: the server's log is the witness)
    assert f"/demo/mail/{message}" in served
    assert "/tracking.png" not in served
    only_local(tab, base_url)
