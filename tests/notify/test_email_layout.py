"""The HTML email and the digest as a mail client shows them: headless Chromium at 1,200 and 400
pixels wide (a phone). Nothing may overflow sideways at 400 pixels.

Screenshots are test artifacts: written to the test's tmp_path and copied to
``bench/out/screens/`` (git-ignored) for review. Chromium is Debian's ``chromium``; without it
these tests fail, naming ``apt-get install chromium`` (``make test`` installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportwatch.config import Settings
from supportwatch.notify.email import render_email, render_html
from supportwatch.notify.message import Message
from supportwatch.notify.preview import write_preview
from supportwatch.service import Service

from .chromium import Browser, png_size
from .fleet import AT, varied_config

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
WIDTHS = (1200, 400)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as running:
        yield running


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The emails a 24-deployment fleet (every kind of section) gets: notices and the digest."""
    folder = tmp_path_factory.mktemp("emails")
    raw = varied_config(f"sqlite:///{folder / 'sw.db'}", deployments=24)
    raw["deployments"][0]["name"] = "a-deployment-with-a-long-name-" + "x" * 60  # must wrap, not overflow
    settings = Settings.model_validate(
        {
            **raw,
            "receivers": [{"name": "data-platform", "email": {"to": ["team@example.com"]}}],
            "routes": [{"match": {"team": "data-platform"}, "receiver": "data-platform"}],
            "smtp": {"host": "smtp.example.com", "sender": "supportwatch@example.com"},
            "web": {"public_url": "https://supportwatch.example.com"},
        }
    )
    service = Service.open(settings)
    service.apply_static(AT)
    reports = service.evaluate(AT)
    health = service.health_findings(AT)
    service.close()
    found: dict[str, Path] = {}
    for digest in (False, True):
        written = write_preview(
            settings, reports, health, now=AT, output=folder / str(digest), receiver=None, digest=digest
        )
        [html] = [path for path in written if path.suffix == ".html"]
        found["digest" if digest else "notices"] = html
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["notices", "digest"])
def test_the_email_reads_at_each_width_without_overflow(
    browser: Browser, pages: dict[str, Path], tmp_path: Path, name: str, width: int
) -> None:
    shot = tmp_path / f"email-{name}-{width}.png"
    scroll_width = browser.render(pages[name], width, shot)
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENS / shot.name)
    assert png_size(shot)[0] == width
    assert png_size(shot)[1] > 600  # the whole message, not a blank page
    assert scroll_width <= width, f"{name} overflows {width} px: scrollWidth {scroll_width}"


def test_the_measure_sees_an_overflow(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text('<!doctype html><meta name="viewport" content="width=device-width">'
                    '<table width="700"><tr><td>a fixed-width table</td></tr></table>')  # fmt: skip
    assert browser.render(page, 400, tmp_path / "wide.png") > 400


def test_the_preview_html_is_the_emails_html_part(pages: dict[str, Path]) -> None:
    html = pages["notices"].read_text(encoding="utf-8")
    assert "<table" not in html
    assert "https://supportwatch.example.com/deployments/east-" in html
    message = Message("r")
    email = render_email(
        message, sender="s@example.com", to=["t@example.com"], now=datetime(2026, 8, 1, tzinfo=UTC)
    )
    part = email.get_body(("html",))
    assert part is not None
    assert part.get_content().rstrip("\n") == render_html(message).rstrip("\n")
