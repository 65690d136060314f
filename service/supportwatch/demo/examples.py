"""The demo's example data: vendor files and a config, rendered for the day the demo runs.

The templates in ``data/`` are the vendor's formats (the agent's and the Runtime's JSON
version feeds, a Helm ``index.yaml``, the agent's release-notes RSS feed) with every date
written as an offset in days from ``today``, so the example deployments raise the same
finding kinds on any day. Rendering is pure: ``today`` in, bytes out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from importlib.resources import files
from zoneinfo import ZoneInfo

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape

DATA = files("supportwatch.demo") / "data"
DEPLOYMENTS_FILE = "deployments.yaml"
CONFIG_TEMPLATE = "supportwatch.yaml.j2"
# the config's top-level key that tells the web and notify layers they show example data
DEMO_SETTINGS_FLAG = "example_data"
_LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class VendorFile:
    """One file the demo's vendor server serves: its URL ``path``, body and content type.

    ``source`` names the demo config's source that reads it.
    """

    path: str
    source: str
    body: bytes
    content_type: str


# (template, URL path, source name, content type); the paths mirror the vendor's hosts
_FILES = (
    ("astro-agent.json.j2", "/updates/astro-agent", "agent-versions", "application/json"),
    ("astronomer-runtime.json.j2", "/updates/astronomer-runtime", "runtime-versions", "application/json"),
    ("index.yaml.j2", "/helm/index.yaml", "chart-index", "application/yaml"),
    (
        "agent-release-notes.rss.xml.j2",
        "/docs/astro/remote-execution-agent-release-notes/rss.xml",
        "agent-notes",
        "application/rss+xml; charset=utf-8",
    ),
)


def _load(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# XML templates are escaped (their values never need it, but nothing unescaped reaches XML);
# JSON and YAML templates are not: HTML escaping would corrupt them, and their values are ours
_templates = Environment(
    loader=FunctionLoader(_load),
    autoescape=select_autoescape(enabled_extensions=("xml.j2",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _helpers(today: date) -> dict[str, Callable[..., str]]:
    """The functions the templates write dates with; ``offset`` is days from ``today``."""

    def on(offset: int) -> date:
        return today + timedelta(days=offset)

    def day(offset: int) -> str:
        return on(offset).isoformat()

    def written_day(offset: int) -> str:
        moment = on(offset)
        return f"{moment:%B} {moment.day}, {moment.year}"

    def stamp(offset: int, clock: str) -> str:
        return f"{day(offset)}T{clock}"

    def rfc822(offset: int, clock: str) -> str:
        moment = datetime.combine(on(offset), time.fromisoformat(clock), tzinfo=UTC)
        return format_datetime(moment, usegmt=True)

    def midnight_london(offset: int) -> str:
        # the vendor's feeds stamp an item at midnight London time, written in GMT
        local = datetime.combine(on(offset), time(0), tzinfo=_LONDON)
        return format_datetime(local.astimezone(UTC), usegmt=True)

    def digest(name: str) -> str:
        return hashlib.sha256(f"supportwatch demo {name}".encode()).hexdigest()

    return {
        "day": day,
        "written_day": written_day,
        "stamp": stamp,
        "rfc822": rfc822,
        "midnight_london": midnight_london,
        "digest": digest,
    }


def render_vendor_files(today: date) -> list[VendorFile]:
    """The example vendor files, dated for ``today``."""
    helpers = _helpers(today)
    return [
        VendorFile(path, source, _templates.get_template(name).render(helpers).encode("utf-8"), kind)
        for name, path, source, kind in _FILES
    ]


def deployments_yaml() -> bytes:
    """The example deployments (a config fragment: ``deployments: [...]``), as shipped."""
    return (DATA / DEPLOYMENTS_FILE).read_bytes()


def render_config(
    *,
    today: date,
    database_url: str,
    vendor_url: str,
    smtp_port: int,
    web_port: int,
    flag: bool,
) -> str:
    """The demo's config file: example sources on ``vendor_url``, mail to the sink on ``smtp_port``.

    ``flag`` writes ``example_data: true`` (only once the settings model knows the key).
    """
    for what, value in (("database_url", database_url), ("vendor_url", vendor_url)):
        if "${" in value:  # the loader would read it as an environment reference
            raise ValueError(f"{what} {value!r} holds '${{'; choose a folder whose path does not")
    return _templates.get_template(CONFIG_TEMPLATE).render(
        today=today.isoformat(),
        database_url=database_url,
        vendor_url=vendor_url,
        smtp_port=int(smtp_port),
        web_port=int(web_port),
        flag=flag,
    )


__all__ = [
    "DEMO_SETTINGS_FLAG",
    "DEPLOYMENTS_FILE",
    "VendorFile",
    "deployments_yaml",
    "render_config",
    "render_vendor_files",
]
