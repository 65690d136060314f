"""Who may read: the read token (``web.read_token_file``) and the teams' calendar feed tokens.

Always open: ``/healthz``, ``/readyz`` and ``/metrics`` (probes and Prometheus).

With a read token, every other page and API answer needs it: as ``Authorization: Bearer
<token>``, or once as ``?token=<token>``, which answers 303 to the same URL without the token
and sets an HttpOnly, SameSite=Strict cookie holding a hash of it (not the token), so the token
leaves the address bar, the history and later Referer headers. A missing or wrong token is 401.

The calendar feeds answer 404 whenever access is refused, exactly as for a team that owns no
deployment, so a feed URL tells nothing about which teams exist. ``web.calendar_tokens``:

- ``off``: feeds follow the read token like every page (open without one);
- ``optional``: a team's feed also opens with that team's token (``?token=``), and a wrong or
  rotated one is refused rather than ignored;
- ``required``: a team's feed opens only with its token (or the read token), and the full
  ``/calendar.ics`` only with the read token (never, when none is configured).

Calendar clients send no headers and keep no cookies, so on the feeds ``?token=`` is checked on
every request and never redirected. Tokens are compared in constant time (``supportwatch.tokens``)
and nothing here logs a token or a URL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from supportwatch.tokens import cookie_value
from supportwatch.web.errors import error_page, http_error, wants_html
from supportwatch.web.state import WebState
from supportwatch.web.unavailable import database_errors, database_unavailable

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
FULL_FEED = "/calendar.ics"
# as Starlette compiles the route "/calendar/{team}.ics"
TEAM_FEED = re.compile(r"^/calendar/(?P<team>[^/]+)\.ics$")
COOKIE = "supportwatch_read"
TOKEN_PARAM = "token"  # noqa: S105 - the query parameter's name
NO_STORE = {"Cache-Control": "no-store"}
# a refused feed answers what a path no route matches answers: it looks like no such team
NOT_FOUND = Response(status_code=404)
NEEDED = (
    "this supportwatch needs its read token: send `Authorization: Bearer <token>`, "
    "or open the URL once with ?token=<token>"
)
PAGE = (
    "This supportwatch shows its dashboard to holders of its read token: open the link you were "
    "given (it ends in ?token=...), or ask its operators for one."
)


class AccessMiddleware:
    """The read token and the calendar feed tokens in front of every route (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        web = self.state.settings.web
        if web.read_token is None and web.calendar_tokens == "off":
            await self.app(scope, receive, send)  # nothing to check: no thread, no hashing
            return
        request = Request(scope)
        try:
            if self.needs_database(request):
                # a team feed's token is looked up in the database: not on the event loop
                refusal = await run_in_threadpool(self.refusal, request)
            else:
                refusal = self.refusal(request)  # a hash and a constant-time compare
        except database_errors() as exc:
            refusal = database_unavailable(request, exc)
        if refusal is NOT_FOUND:
            # the very answer of a path no route matches (HTML for browsers, JSON otherwise)
            refusal = await http_error(request, HTTPException(status_code=404))
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def needs_database(self, request: Request) -> bool:
        """Whether checking ``request`` reads a team's feed token from the database."""
        return (
            self.state.settings.web.calendar_tokens != "off"
            and TOKEN_PARAM in request.query_params
            and TEAM_FEED.match(route_path(request.scope)) is not None
        )

    def refusal(self, request: Request) -> Response | None:
        """The answer that refuses (or redirects) ``request``; None lets it through."""
        path = route_path(request.scope)
        feed = TEAM_FEED.match(path)
        if feed is not None or path == FULL_FEED:
            team = feed["team"] if feed is not None else None
            return None if self.feed_allowed(request, team) else NOT_FOUND
        return self.read_refusal(request)

    def feed_allowed(self, request: Request, team: str | None) -> bool:
        """Whether a calendar feed (``team``'s, or the full one for None) may be served."""
        web = self.state.settings.web
        service = self.state.service
        token = request.query_params.get(TOKEN_PARAM)
        if self.reader(request) or service.read_token_matches(token):
            return True
        if team is not None and web.calendar_tokens != "off" and token is not None:
            if service.calendar_token_matches(team, token):
                return True
            if web.calendar_tokens == "optional":
                return False  # a wrong or rotated token is refused, not ignored
        return web.calendar_tokens != "required" and web.read_token is None

    def reader(self, request: Request) -> bool:
        """Whether the request carries the read token as a bearer header or the cookie."""
        service = self.state.service
        return service.read_token_matches(bearer(request)) or service.read_cookie_matches(
            request.cookies.get(COOKIE)
        )

    def read_refusal(self, request: Request) -> Response | None:
        """401 without the read token; 303 and the cookie for a right ``?token=``; None to pass."""
        service = self.state.service
        if self.state.settings.web.read_token is None:
            return None
        presented = bearer(request)
        if presented is not None:
            return None if service.read_token_matches(presented) else unauthorized(request, wrong=True)
        token = request.query_params.get(TOKEN_PARAM)
        if token is not None:
            if not service.read_token_matches(token):
                return unauthorized(request, wrong=True)
            answer = RedirectResponse(without_token(request.scope), status_code=303, headers=NO_STORE)
            answer.headers["Referrer-Policy"] = "no-referrer"
            answer.set_cookie(
                COOKIE,
                cookie_value(token),
                path="/",
                httponly=True,
                samesite="strict",
                secure=secure(request, self.state),
            )
            return answer
        if service.read_cookie_matches(request.cookies.get(COOKIE)):
            return None
        return unauthorized(request, wrong=False)


def route_path(scope: Scope) -> str:
    """The path the routes match (without the app's ``root_path``)."""
    path = str(scope["path"])
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def secure(request: Request, state: WebState) -> bool:
    """Whether the cookie may travel over https only: the request or the public URL is https."""
    public = state.settings.web.public_url
    return request.url.scheme == "https" or (public is not None and str(public).startswith("https:"))


def without_token(scope: Scope) -> str:
    """The request's path and query, ``token`` removed: a path on this site, never ``//host``."""
    path = "/" + quote(str(scope["path"]).lstrip("/"), safe="/:@!$&'()*+,;=-._~")
    query = [
        (name, value)
        for name, value in parse_qsl(
            bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True
        )
        if name != TOKEN_PARAM
    ]
    return f"{path}?{urlencode(query)}" if query else path


def unauthorized(request: Request, *, wrong: bool) -> Response:
    """401: an HTML page for browsers, JSON otherwise, with the Bearer challenge."""
    challenge = 'Bearer realm="supportwatch"' + (', error="invalid_token"' if wrong else "")
    headers = {**NO_STORE, "WWW-Authenticate": challenge}
    if wants_html(request):
        return error_page(request, 401, PAGE, headers=headers)
    detail = ("the read token is wrong; " if wrong else "") + NEEDED
    return JSONResponse({"detail": detail}, status_code=401, headers=headers)
