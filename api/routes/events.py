"""Agent events: long-poll JSON, or SSE resumable with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.answers import or_empty
from api.endpoints import ANY_USER, Ctx
from api.errors import NO_STORE, ApiError
from api.routes import registry
from core import sessions
from core.notifications import valid_event_id

MAX_WAIT_S = 30.0
_SSE_BLOCK_S = 15.0


def parse_cursor(raw: str | None) -> str:
    cursor = raw or "0"
    if not valid_event_id(cursor):
        raise ApiError(
            422,
            "invalid_query",
            "after / Last-Event-ID must be an event id.",
            fields={"after": "An event id such as 1700000000000-0."},
        )
    return cursor


def parse_wait(raw: str | None) -> float:
    try:
        wait = float(raw) if raw else 0.0
    except ValueError:
        raise ApiError(
            422,
            "invalid_query",
            "wait must be a number of seconds.",
            fields={"wait": f"0 to {MAX_WAIT_S:g} seconds."},
        ) from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise ApiError(
            422,
            "invalid_query",
            "wait is out of range.",
            fields={"wait": f"0 to {MAX_WAIT_S:g} seconds."},
        )
    return wait


# `after`: the last event id seen; `wait`: seconds to long-poll (SSE with Accept:
# text/event-stream, resumed by Last-Event-ID).
EVENTS_QUERY: dict[str, dict[str, Any]] = {  # an empty value is its default
    "after": or_empty({"type": "string", "pattern": "^(0|[0-9]+-[0-9]+)$"}),
    "wait": or_empty({"type": "number", "minimum": 0, "maximum": MAX_WAIT_S}),
    # the agent panel's stream: its own session, not the workspace's (api.auth.cookie_token)
    "panel": {"type": "string", "enum": ["1"]},
}


@registry.route(
    "GET", "/api/v1/agent/events", tag="agent events", roles=ANY_USER, query=EVENTS_QUERY
)
async def agent_events(ctx: Ctx) -> Response:
    """This agent's events, after an id; long-polls up to `wait` seconds (or SSE)."""
    actor = ctx.user
    assert actor.user_id is not None  # roles=ANY_USER: a user, never a site key
    reader = ctx.services.events
    if "text/event-stream" in ctx.request.headers.get("accept", ""):
        cursor = parse_cursor(ctx.request.headers.get("last-event-id") or ctx.query("after"))

        session = actor.session_id

        async def stream() -> AsyncIterator[str]:
            position = cursor
            yield "retry: 2000\n\n"
            while True:
                events = await reader.read(
                    actor.site_id, actor.user_id or "", position, _SSE_BLOCK_S
                )
                # A stream outlives no session: signed out, disabled, idle, new password.
                if session is not None and not await run_in_threadpool(
                    sessions.is_live, ctx.rt, session
                ):
                    return
                if not events:
                    yield ": keep-alive\n\n"
                for event in events:
                    position = event["id"]
                    data = json.dumps(event["data"])
                    yield f"id: {event['id']}\nevent: {event['type']}\ndata: {data}\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={**NO_STORE, "X-Accel-Buffering": "no"},
        )
    events = await reader.read(
        actor.site_id,
        actor.user_id,
        parse_cursor(ctx.query("after")),
        parse_wait(ctx.query("wait")),
    )
    return JSONResponse({"events": events}, headers=NO_STORE)
