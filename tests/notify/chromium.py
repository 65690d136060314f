"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

The command line's ``--window-size`` cannot go below 500 pixels of layout width in today's
headless mode (a 400-pixel screenshot is a crop of a 500-pixel page), so the viewport is set the
way DevTools' device toolbar sets it: ``Emulation.setDeviceMetricsOverride``. Standard library
only: messages are JSON, each ended by a NUL byte; Chromium reads commands on its fd 3 and
writes answers and events on its fd 4.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get install chromium"
# puts the two pipe ends on fds 3 and 4 (moved above 9 first, so neither clobbers the other), then
# becomes Chromium; a shell cannot do it: it redirects single-digit fds only
_ON_FDS_3_AND_4 = """
import fcntl, os, sys
high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
os.dup2(high[0], 3)
os.dup2(high[1], 4)
os.execv(sys.argv[3], sys.argv[3:])
"""


def executable() -> str:
    """Chromium's path; the test fails (never skips) naming how to install it when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(f"Chromium is missing: the email layout tests need it; install it with `{INSTALL}`")
    return found


class Browser:
    """One headless Chromium; ``render`` loads a page at a width and measures and shoots it."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="sw-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--mute-audio",
            f"--user-data-dir={self._profile.name}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _ON_FDS_3_AND_4,
                str(to_chrome_r),
                str(from_chrome_w),
                executable(),
                *flags,
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone: closing is best effort
            self._call("Browser.close")
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, method: str, params: dict[str, Any] | None, session: str | None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def _wait_for(self, event: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, message in enumerate(self._events):
                if message.get("method") == event and message.get("sessionId") == session:
                    del self._events[index]
                    return
            self._events.append(self._read(deadline))

    def render(self, page: Path, width: int, screenshot: Path) -> int:
        """Load ``page`` in a viewport ``width`` pixels wide (a phone's, when narrow), save a
        full-page PNG to ``screenshot``; returns the document's ``scrollWidth``."""
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
            self._call("Emulation.setDeviceMetricsOverride", metrics, session)
            self._call("Page.enable", None, session)
            self._call("Page.navigate", {"url": page.resolve().as_uri()}, session)
            self._wait_for("Page.loadEventFired", session)
            measured = self._call(
                "Runtime.evaluate",
                {"expression": "document.documentElement.scrollWidth", "returnByValue": True},
                session,
            )
            layout = self._call("Page.getLayoutMetrics", None, session)
            height = int(layout["cssContentSize"]["height"]) + 1
            self._call(
                "Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 16000)}, session
            )
            shot = self._call("Page.captureScreenshot", {"format": "png"}, session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            return int(measured["result"]["value"])
        finally:
            self._call("Target.closeTarget", {"targetId": target})


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's (width, height), read from its IHDR chunk."""
    data = path.read_bytes()[16:24]
    return int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big")
