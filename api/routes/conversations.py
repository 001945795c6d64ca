"""Conversations, for agents and for chat platforms' back ends (site API keys)."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import ANY_USER, USER_OR_KEY, Ctx
from api.errors import ApiError
from api.routes import registry
from core import conversations as conv
from core import workspace
from core.actors import Role
from core.text import is_id, one_line

_ID = field(str, required=True, max_length=64)
# Agents (their own conversations), admins and chat platforms' back ends manage
# conversations; managers only read transcripts. Core checks which conversation.
_MANAGERS_OF_CHATS = (Role.AGENT, Role.ADMIN, Role.SITE_KEY)
_READERS = (*ANY_USER, Role.SITE_KEY)


def _bad_query(name: str, hint: str) -> ApiError:
    return ApiError(422, "invalid_query", f"{name} is not valid.", fields={name: hint})


def _list_query(ctx: Ctx) -> tuple[str, str | None, int, str | None]:
    params = ctx.request.query_params
    for name in params:  # unknown names are refused by the registry (query=)
        if len(params.getlist(name)) > 1:
            raise _bad_query(name, "Give it once.")
    external_id = params.get("external_id")
    if external_id is not None and not (
        0 < len(external_id) <= conv.MAX_EXTERNAL_ID and one_line(external_id)
    ):
        raise _bad_query("external_id", f"1 to {conv.MAX_EXTERNAL_ID} characters on one line.")
    # Looked up by the platform's id, a conversation is found whatever its status.
    status = params.get("status", "active" if external_id is None else "all")
    if status not in workspace.STATUSES:
        raise _bad_query("status", "active, closed or all.")
    raw_limit = params.get("limit", str(workspace.DEFAULT_LIMIT))
    if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > 3:
        raise _bad_query("limit", f"A whole number from 1 to {workspace.MAX_LIMIT}.")
    limit = int(raw_limit)
    if not 1 <= limit <= workspace.MAX_LIMIT:
        raise _bad_query("limit", f"A whole number from 1 to {workspace.MAX_LIMIT}.")
    agent_id = params.get("agent_id")
    if agent_id is not None and not is_id(agent_id):
        # Not an id we ever hand out: no such agent here, as for any other unknown id.
        raise ApiError(404, "not_found", "No such agent on this site.")
    return status, agent_id, limit, external_id


@registry.route(
    "GET",
    "/api/v1/conversations",
    auth=USER_OR_KEY,
    roles=_READERS,
    tag="conversations",
    query={  # no empty values: each is checked as given
        "status": {"enum": list(workspace.STATUSES)},
        "limit": {"type": "integer", "minimum": 1, "maximum": workspace.MAX_LIMIT},
        "agent_id": {"type": "string"},
        "external_id": {"type": "string", "minLength": 1, "maxLength": conv.MAX_EXTERNAL_ID},
    },
    responses={403: "forbidden", 404: "not_found"},
    summary="List conversations, newest first: ?status=active|closed|all (default active; "
    "all with external_id), ?limit=1..200 (default 50), ?agent_id= (admins, managers, site "
    "keys), ?external_id= (the platform's own id: the one conversation so named). An agent "
    'gets the ones they are assigned to or take part in. {"conversations": [{"id", '
    '"external_id", "status", "agent_id", "assigned", "visitor": {"name"}, "created_at", '
    '"closed_at", "last_message": {"at", "author", "text"} | null}]}',
)
def list_conversations(ctx: Ctx) -> dict[str, Any]:
    """List conversations (an agent: their own)."""
    status, agent_id, limit, external_id = _list_query(ctx)
    found = workspace.list_conversations(
        ctx.rt, ctx.user, status=status, agent_id=agent_id, limit=limit, external_id=external_id
    )
    return {"conversations": found}


@registry.route(
    "GET",
    "/api/v1/conversations/{conversation_id}",
    auth=USER_OR_KEY,
    roles=_READERS,
    tag="conversations",
    responses={403: "forbidden", 404: "not_found"},
    summary='One conversation: {"id", "status", "agent_id", "assigned", "visitor", '
    '"created_at", "closed_at", "participants": [agent ids], "secure_forms": [{"request_id", '
    '"form_id", "title", "status", "submission_id"?, "sent_at", "expires_at", "fields": '
    '[{"name", "label", "off_the_record"}]}]} (the forms the caller sent; never a value).',
)
def detail(ctx: Ctx) -> dict[str, Any]:
    """One conversation, with the secure forms the caller sent into it."""
    return workspace.conversation_detail(ctx.rt, ctx.user, ctx.path["conversation_id"])


@registry.route(
    "POST",
    "/api/v1/conversations",
    auth=USER_OR_KEY,
    roles=_MANAGERS_OF_CHATS,
    status=201,
    tag="conversations",
    body={
        "visitor": field(dict),
        "agent_id": field(str, max_length=64),
        "external_id": field(str, max_length=conv.MAX_EXTERNAL_ID),
    },
    responses={404: "not_found", 409: "conflict", 422: "validation_failed"},  # 404: agent_id
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
    return conv.create_conversation(
        ctx.rt, ctx.user, name, ctx.body.get("agent_id"), ctx.body.get("external_id")
    )


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
