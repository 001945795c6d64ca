"""The visitor's chat (a chat token, not a log-in), and what agents do in it.

Visitor endpoints take the chat token as `Authorization: Bearer sfv_...` (a platform's
visitor client) or from the demo chat page's cookie; with the cookie, a write must also
carry the page's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.auth import bearer_token
from api.bodies import field
from api.endpoints import PUBLIC, USER_OR_KEY, Ctx
from api.errors import NO_STORE, ApiError
from api.pages import csrf
from api.pages.visitor_chat import CHAT, chat_token
from api.routes import registry
from api.routes.events import EVENTS_QUERY, parse_cursor, parse_wait
from core import chat
from core.actors import USE_SECURE_FORMS
from core.errors import NotFound, Unauthenticated
from core.text import is_id
from core.visitor_stream import visitor_recipient

_SSE_BLOCK_S = 15.0


def _visitor(ctx: Ctx, *, writing: bool = False) -> chat.Visitor:
    token = bearer_token(ctx.request)
    if token is not None:
        return chat.resolve_visitor(ctx.rt, token)
    token = chat_token(ctx.request)
    if token is None:
        raise Unauthenticated()
    visitor = chat.resolve_visitor(ctx.rt, token)
    if writing and not csrf.verify(
        ctx.rt, CHAT, visitor.token_hash, ctx.request.headers.get("x-csrf-token")
    ):
        raise ApiError(403, "forbidden", "Reload the chat page and try again.")
    return visitor


@registry.route(
    "POST",
    "/api/v1/chat/conversations/{conversation_id}/visitor-token",
    auth=USER_OR_KEY,
    status=201,
    tag="chat",
    responses={403: "forbidden", 409: "conversation_closed"},
)
def visitor_token(ctx: Ctx) -> dict[str, str]:
    """A chat token for the conversation's visitor (for a platform's visitor client)."""
    return chat.visitor_token(ctx.rt, ctx.user, ctx.path["conversation_id"])


@registry.route(
    "POST",
    "/api/v1/chat/conversations/{conversation_id}/secure-forms",
    status=201,
    tag="chat",
    body={
        "form_id": field(str, required=True, max_length=64),
        "language": field(str, max_length=16),
    },
    responses={403: "forbidden", 409: "conversation_closed", 422: "validation_failed"},
    permission=USE_SECURE_FORMS,
)
def send_in_chat(ctx: Ctx) -> dict[str, Any]:
    """Send a secure form and show it in the visitor's chat as a card with its link."""
    form_id = ctx.body["form_id"]
    if not is_id(form_id):  # not an id we ever hand out, so no such form
        raise NotFound("No such form on this site.")
    return chat.send_form_in_chat(
        ctx.rt, ctx.user, ctx.path["conversation_id"], form_id, ctx.body.get("language")
    )


@registry.route("GET", "/api/v1/chat", auth=PUBLIC, tag="chat", responses={401: "unauthenticated"})
def state(ctx: Ctx) -> dict[str, Any]:
    """The visitor's chat: who they talk to, whether it is open, and what was said."""
    return chat.chat_state(ctx.rt, _visitor(ctx))


@registry.route(
    "POST",
    "/api/v1/chat/messages",
    auth=PUBLIC,
    status=201,
    rate="otk",
    tag="chat",
    body={"text": field(str, required=True, max_length=chat.MAX_MESSAGE)},
    responses={401: "unauthenticated", 403: "forbidden", 409: "conversation_closed"},
)
def post_message(ctx: Ctx) -> dict[str, Any]:
    """The visitor says something; a card number in it is masked before it is stored."""
    return chat.post_visitor_message(ctx.rt, _visitor(ctx, writing=True), ctx.body["text"].strip())


@registry.route(
    "GET",
    "/api/v1/chat/events",
    auth=PUBLIC,
    tag="chat",
    query=EVENTS_QUERY,
    responses={401: "unauthenticated"},
)
async def events(ctx: Ctx) -> Response:
    """What the visitor should see next (long-poll JSON, or SSE with Last-Event-ID)."""
    visitor = await run_in_threadpool(_visitor, ctx)
    reader = ctx.services.events
    recipient = visitor_recipient(visitor.conversation_id)
    if "text/event-stream" not in ctx.request.headers.get("accept", ""):
        found = await reader.read(
            visitor.site_id,
            recipient,
            parse_cursor(ctx.query("after")),
            parse_wait(ctx.query("wait")),
        )
        return JSONResponse({"events": found}, headers=NO_STORE)
    cursor = parse_cursor(ctx.request.headers.get("last-event-id") or ctx.query("after"))

    async def stream() -> AsyncIterator[str]:
        position = cursor
        yield "retry: 2000\n\n"
        while True:
            found = await reader.read(visitor.site_id, recipient, position, _SSE_BLOCK_S)
            for event in found:
                position = event["id"]
                data = json.dumps(event["data"])
                yield f"id: {event['id']}\nevent: {event['type']}\ndata: {data}\n\n"
            try:  # a chat that was left or has timed out stops streaming
                await run_in_threadpool(_visitor, ctx)
            except Unauthenticated:
                return
            if not found:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={**NO_STORE, "X-Accel-Buffering": "no"},
    )
