"""``/demo/mail``: the messages the demo's mail sink stored, listed and shown (example data only).

The routes exist only when ``settings.example_data`` is true (``create_app`` registers them
then; they also answer 404 otherwise). The mailbox is the demo's ``mail`` folder beside its
config, where it also keeps its SQLite database: ``<database folder>/mail``, unless the app
was given another (``app.state.demo_mailbox``). ``Mailbox`` accepts only the ids its sink gives
out, so no id names a path outside the folder. A message's HTML part is shown in a sandboxed
``<iframe srcdoc>`` (no script, no same-origin; the page's Content-Security-Policy blocks its
remote images), its text part as text.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import make_url

from supportwatch.demo.mailbox import Mailbox, MessageNotFound
from supportwatch.web.layout import page
from supportwatch.web.state import WebState, web_state

router = APIRouter(prefix="/demo/mail", tags=["demo"])

# the demo's mailbox folder (supportwatch.demo.runner.MAILBOX_DIR, not imported: it loads the SMTP server)
MAILBOX_DIR = "mail"
MAX_LISTED = 500


def mailbox(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Mailbox:
    """The demo's mailbox (a FastAPI dependency); 404 unless the service runs on example data."""
    if not state.settings.example_data:
        raise HTTPException(404, detail="the demo mailbox exists only on example data (example_data: true)")
    folder = getattr(request.app.state, "demo_mailbox", None)
    if folder is None:
        url = make_url(state.settings.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            raise HTTPException(404, detail="no demo mailbox: the demo keeps it beside its SQLite database")
        folder = Path(url.database).absolute().parent / MAILBOX_DIR
    return Mailbox(Path(folder))


Box = Annotated[Mailbox, Depends(mailbox)]


@router.get("", response_class=HTMLResponse)
def mail_list(request: Request, box: Box) -> HTMLResponse:
    """The stored messages, newest first."""
    messages = box.messages(limit=MAX_LISTED)
    return page(request, "mail_list.html.j2", {"messages": messages, "demo_mail": True})


@router.get("/{message_id}", response_class=HTMLResponse)
def mail_message(message_id: str, request: Request, box: Box) -> HTMLResponse:
    """One message: its headers, HTML part (sandboxed) and text part; 404 for an unknown id."""
    try:
        summary = box.summary(message_id)
        raw = box.read(message_id)
    except MessageNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # the default policy's message class
    view = {"m": summary, "html": _part(message, "html"), "text": _part(message, "plain"), "demo_mail": True}
    return page(request, "mail_message.html.j2", view)


def _part(message: EmailMessage, subtype: str) -> str | None:
    """The body part of ``subtype`` as text, or None; undecodable bytes are replaced."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset, a broken encoding
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
