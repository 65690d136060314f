"""The HTML pages' shared layout: the Jinja2 environment, what every page shows, the headers.

Every page extends ``base.html.j2``: inline CSS only, no script, no external URL, readable
without JavaScript and at 400 px. Autoescape is on: deployment names, findings, stored errors
and mail are untrusted text. ``Content-Security-Policy`` allows nothing but inline styles and
``data:`` images (a shown email's remote images and scripts are blocked too).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from supportwatch.web.state import WebState

if TYPE_CHECKING:
    from jinja2 import Environment

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# a Host header as browsers send it: a name or IPv4 address, or a bracketed IPv6 one, and a port
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


@cache
def environment() -> Environment:
    # jinja2 is loaded by the first page rendered, not at start (idle memory)
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape  # noqa: PLC0415

    return Environment(
        loader=PackageLoader("supportwatch.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """``template`` rendered with ``context`` and what every page shows: on example data, the banner
    and the link to the demo's mail."""
    state: WebState | None = getattr(request.app.state, "web", None)
    example_data = bool(state is not None and state.settings.example_data)
    body = (
        environment()
        .get_template(template)
        .render({"example_data": example_data, "demo_mail": example_data, **context})
    )
    return HTMLResponse(body, status_code=status_code, headers=HEADERS)


def origin(request: Request, state: WebState) -> tuple[str, str]:
    """(scheme, host) the request was made to, for absolute links such as calendar subscriptions.

    The Host header is the client's: one that is not a plain host[:port] gives way to the
    configured ``web.host:web.port``.
    """
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        host = f"{state.settings.web.host}:{state.settings.web.port}"
    return request.url.scheme if request.url.scheme in ("http", "https") else "http", host


def subscriptions(request: Request, state: WebState, teams: list[str]) -> list[dict[str, str]]:
    """Per team (and first for every minor): the ``webcal://`` subscription and the plain link."""
    scheme, host = origin(request, state)
    feeds = [("All agent minors", "/calendar.ics")]
    feeds += [(team, f"/calendar/{quote(team, safe='')}.ics") for team in teams]
    return [
        {"name": name, "webcal": f"webcal://{host}{path}", "link": f"{scheme}://{host}{path}"}
        for name, path in feeds
    ]
