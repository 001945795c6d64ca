"""The agent workspace: the agent's chats, the chat itself, and secure forms beside it.

    GET  /agent                   the active chats; `?c=ID` opens one (its transcript, the
                                  secure forms sent into it, the forms to pick from)
    POST /agent/messages          say something in the open chat
    POST /agent/secure-forms      send a secure form into it (the visitor gets a card)
    POST /agent/close             end the chat

The page is whole without a script: the posts above reload it. static/agent.js makes it
live (the agent's event stream over SSE, sending without a reload, status that moves by
itself) and is the only way to see answers: they are revealed into the page's memory
with a one-time key the server hands to that script alone, never rendered by the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api import i18n
from api.pages import session
from api.pages.render import render
from api.pages.session import Posted, signed_in_page
from api.pages.web import page, services
from core import chat, workspace
from core import conversations as conv
from core.actors import FORWARD_PAYMENTS, USE_SECURE_FORMS, Actor, Role
from core.errors import ConversationClosed, Forbidden, NotFound, ValidationFailed
from core.forms import catalogue
from core.runtime import Runtime
from core.text import is_id

AGENTS = frozenset({Role.AGENT})
STATUS_WORDS = {
    "sent": "Sent: waiting for the visitor",
    "opened": "Opened by the visitor",
    "submitted": "Submitted: answers ready",
    "viewed": "Answers viewed",
    "expired": "Expired",
}
# Set phrases an agent inserts with one key press; the texts are ours, never the user's.
QUICK_REPLIES = (
    "Hello! How can I help you today?",
    "I will send you a secure form for those details. What you type in it never appears "
    "in this chat.",
    "Please never type card numbers in the chat. I will send you a secure form instead.",
    "Thank you, I have received your details.",
    "Is there anything else I can help you with?",
)
# What a reload after a post says; the query names one of these and never carries text.
NOTICES: dict[str, tuple[str, str, str | None]] = {
    "empty": ("error", "Type a message first.", "#compose-text"),
    "long": ("error", "A message is at most 5000 characters.", "#compose-text"),
    "choose-form": ("error", "Choose a form to send.", "#form-choice"),
    "language": ("error", "Choose a language from the list.", "#form-language"),
    "closed": ("error", "This chat has ended, so nothing was sent.", None),
    "form-refused": (
        "error",
        "Only the agent assigned to this chat can send it a secure form.",
        None,
    ),
    "gone": ("error", "That chat is not one of yours, or it no longer exists.", None),
    "card": ("info", "The card number you typed was hidden in the chat.", None),
    "form-sent": ("info", "The secure form was sent. The visitor sees it in the chat.", None),
    "ended": ("info", "The chat has ended.", None),
}


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and is_id(value) else None


def _back(conversation_id: str | None, notice: str | None = None, anchor: str = "") -> Response:
    query = {k: v for k, v in (("c", conversation_id), ("notice", notice)) if v}
    target = "/agent" + (f"?{urlencode(query)}" if query else "") + anchor
    return RedirectResponse(target, status_code=303)


def _notice(key: str | None) -> dict[str, Any] | None:
    found = NOTICES.get(key or "")
    if found is None:
        return None
    kind, text, href = found
    return {"kind": kind, "text": text, "href": href}


def _open_chat(request: Request, actor: Actor, wanted: str | None) -> dict[str, Any]:
    """The chat `?c=` names, as the page shows it; or why it can't be shown."""
    rt = services(request).rt
    if wanted is None:
        return {"chat": None, "lines": [], "gone": False}
    try:
        detail = workspace.conversation_detail(rt, actor, wanted)
    except (NotFound, Forbidden):
        return {"chat": None, "lines": [], "gone": True}
    return {"chat": detail, "lines": workspace.chat_lines(rt, actor, detail), "gone": False}


def _workspace(request: Request, actor: Actor) -> Response:
    svc = services(request)
    rt = svc.rt
    raw = request.query_params.get("c")
    opened = _open_chat(request, actor, _id(raw) if raw else None)
    gone = opened["gone"] or (raw is not None and _id(raw) is None)
    notice = _notice("gone" if gone else request.query_params.get("notice"))
    chat_row = opened["chat"]
    chats = workspace.list_conversations(rt, actor, status="active")
    return render(
        request,
        "agent.html",
        status_code=404 if gone else 200,
        **session.layout(rt, actor, "/agent"),
        chats=chats,
        chat=chat_row,
        lines=opened["lines"],
        visitor=(chat_row["visitor"]["name"] or "Visitor") if chat_row else None,
        can_send=bool(
            chat_row
            and chat_row["assigned"]
            and chat_row["status"] == "active"
            and bool({USE_SECURE_FORMS, FORWARD_PAYMENTS} & actor.permissions)
        ),
        can_reveal=USE_SECURE_FORMS in actor.permissions,
        can_forward=FORWARD_PAYMENTS in actor.permissions,
        forms=catalogue.list_forms(rt, actor),
        # each in its own words (and `lang`), so a speaker finds their language
        languages=i18n.choices(),
        status_words=STATUS_WORDS,
        quick_replies=QUICK_REPLIES,
        notice=notice,
        after=workspace.latest_event_id(rt, actor),
    )


@page
@signed_in_page(AGENTS)
def workspace_page(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    return _workspace(request, actor)


@page
@signed_in_page(AGENTS, posts=True)
def say(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    conversation_id = _id(posted.get("conversation"))
    text = posted.get("text", "").strip()
    if conversation_id is None:
        return _back(None, "gone")
    if not text:
        return _back(conversation_id, "empty", "#compose-text")
    if len(text) > chat.MAX_MESSAGE:
        return _back(conversation_id, "long", "#compose-text")
    try:
        sent = conv.post_message(rt, actor, conversation_id, text)
    except ConversationClosed:
        return _back(conversation_id, "closed")
    except (NotFound, Forbidden):
        return _back(None, "gone")
    except ValidationFailed:
        return _back(conversation_id, "empty", "#compose-text")
    return _back(conversation_id, "card" if sent["card_number_masked"] else None, "#compose")


@page
@signed_in_page(AGENTS, posts=True)
def send_form(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    conversation_id = _id(posted.get("conversation"))
    form_id = _id(posted.get("form_id"))
    if conversation_id is None:
        return _back(None, "gone")
    if form_id is None:
        return _back(conversation_id, "choose-form", "#form-choice")
    try:
        chat.send_form_in_chat(rt, actor, conversation_id, form_id, posted.get("language") or None)
    except ValidationFailed:
        return _back(conversation_id, "language", "#form-language")
    except ConversationClosed:
        return _back(conversation_id, "closed")
    except Forbidden:
        return _back(conversation_id, "form-refused")
    except NotFound:
        # The chat is checked before the form: still readable means the form is gone.
        return _back(conversation_id, "choose-form", "#form-choice")
    return _back(conversation_id, "form-sent", "#secure-forms")


@page
@signed_in_page(AGENTS, posts=True)
def close(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    conversation_id = _id(posted.get("conversation"))
    if conversation_id is None:
        return _back(None, "gone")
    try:
        conv.close(rt, actor, conversation_id)
    except (NotFound, Forbidden):
        return _back(None, "gone")
    return _back(conversation_id, "ended")


def routes() -> list[BaseRoute]:
    return [
        Route("/agent", workspace_page, methods=["GET"]),
        Route("/agent/messages", say, methods=["POST"]),
        Route("/agent/secure-forms", send_form, methods=["POST"]),
        Route("/agent/close", close, methods=["POST"]),
    ]
