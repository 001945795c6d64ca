"""Conversations, for agents and for chat platforms' back ends (site API keys)."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import ANY_USER, USER_OR_KEY, Ctx
from api.errors import ApiError
from api.routes import registry
from core import conversations as conv

_ID = field(str, required=True, max_length=64)
# Agents (their own conversations), admins and chat platforms' back ends manage
# conversations; managers only read transcripts. Core checks which conversation.
_MANAGERS_OF_CHATS = ("agent", "admin", "site_key")
_READERS = (*ANY_USER, "site_key")


@registry.route(
    "POST",
    "/api/v1/conversations",
    auth=USER_OR_KEY,
    roles=_MANAGERS_OF_CHATS,
    status=201,
    tag="conversations",
    body={"visitor": field(dict), "agent_id": field(str, max_length=64)},
)
def create(ctx: Ctx) -> dict[str, Any]:
    """Start a conversation (an agent creating it is assigned)."""
    visitor = ctx.body.get("visitor") or {}
    unknown = set(visitor) - {"name"}
    name = visitor.get("name")
    if unknown or (name is not None and (not isinstance(name, str) or len(name) > 200)):
        raise ApiError(
            422,
            "invalid_body",
            "visitor may only have a name (text, up to 200).",
            fields={"visitor": 'Only {"name": text}.'},
        )
    return conv.create_conversation(ctx.rt, ctx.user, name, ctx.body.get("agent_id"))


@registry.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/participants",
    auth=USER_OR_KEY,
    roles=_MANAGERS_OF_CHATS,
    body={"agent_id": _ID},
    tag="conversations",
)
def add_participant(ctx: Ctx) -> dict[str, Any]:
    """Another agent now views the chat (and never sees secure form answers)."""
    return conv.add_participant(ctx.rt, ctx.user, ctx.path["conversation_id"], ctx.body["agent_id"])


@registry.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/transfer",
    auth=USER_OR_KEY,
    roles=_MANAGERS_OF_CHATS,
    body={"agent_id": _ID},
    tag="conversations",
)
def transfer(ctx: Ctx) -> dict[str, Any]:
    """Assign the conversation to another agent."""
    return conv.transfer(ctx.rt, ctx.user, ctx.path["conversation_id"], ctx.body["agent_id"])


@registry.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/close",
    auth=USER_OR_KEY,
    roles=_MANAGERS_OF_CHATS,
    tag="conversations",
)
def close(ctx: Ctx) -> dict[str, Any]:
    """End the conversation; its secure form answers can no longer be revealed."""
    return conv.close(ctx.rt, ctx.user, ctx.path["conversation_id"])


@registry.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/messages",
    auth=USER_OR_KEY,
    roles=_MANAGERS_OF_CHATS,
    status=201,
    body={"text": field(str, required=True, max_length=5000)},
    tag="conversations",
)
def post_message(ctx: Ctx) -> dict[str, Any]:
    """Add a chat message; card numbers in it are masked before they are stored."""
    return conv.post_message(ctx.rt, ctx.user, ctx.path["conversation_id"], ctx.body["text"])


@registry.route(
    "GET",
    "/api/v1/conversations/{conversation_id}/transcript",
    auth=USER_OR_KEY,
    roles=_READERS,
    tag="conversations",
)
def transcript(ctx: Ctx) -> dict[str, Any]:
    """The chat transcript: never a secure form value."""
    return {"messages": conv.transcript(ctx.rt, ctx.user, ctx.path["conversation_id"])}
