"""What the agent workspace reads: the conversations of an agent, one conversation with the
secure forms the agent sent into it, and where the agent's event stream stands.

Read-only, and scoped by site like every query. An agent sees the conversations they are
assigned to or take part in; admins, managers and a site's key see every one of the site.
Nothing here carries a submitted value: requests have a status, messages are the
(already masked) transcript.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from core import notifications
from core.actors import SITE_KEY, USER_ROLES, Actor, Role
from core.clock import aware, rfc3339, utcnow
from core.conversations import (
    ACTIVE,
    AGENT,
    get_conversation,
    list_participants,
    transcript,
)
from core.errors import Forbidden, NotFound
from core.form_requests import EXPIRED, OPENED, SENT
from core.forms.catalogue import load_version
from core.runtime import Runtime
from core.schema import conversations, form_requests, messages, participants, users
from core.senders import sent_by

STATUSES = ("active", "closed", "all")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
_READERS = (*USER_ROLES, SITE_KEY)


def _agent_exists(rt: Runtime, site_id: str, agent_id: str) -> bool:
    with rt.app_engine.connect() as conn:
        found = conn.execute(
            select(users.c.id).where(
                users.c.id == agent_id, users.c.site_id == site_id, users.c.role == Role.AGENT.value
            )
        ).first()
    return found is not None


def _whose(rt: Runtime, actor: Actor, agent_id: str | None) -> str | None:
    """Whose conversations to list: an agent's own, or (for the others) one agent's or all."""
    if actor.role not in _READERS:
        raise Forbidden()
    if actor.role == Role.AGENT:
        if agent_id not in (None, actor.user_id):
            raise Forbidden("An agent can only list their own conversations.")
        return actor.user_id
    if agent_id is not None and not _agent_exists(rt, actor.site_id, agent_id):
        raise NotFound("No such agent on this site.")
    return agent_id


def list_conversations(
    rt: Runtime,
    actor: Actor,
    *,
    status: str = "active",
    agent_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    external_id: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first, each with its last (masked) message; `external_id` finds the one a
    platform named so."""
    if status not in STATUSES or not 1 <= limit <= MAX_LIMIT:
        raise ValueError("status or limit out of range")  # the edge checks both first
    whose = _whose(rt, actor, agent_id)
    query = select(conversations).where(conversations.c.site_id == actor.site_id)
    if whose is not None:
        joined = select(participants.c.conversation_id).where(participants.c.agent_id == whose)
        query = query.where(or_(conversations.c.agent_id == whose, conversations.c.id.in_(joined)))
    if external_id is not None:
        query = query.where(conversations.c.external_id == external_id)
    if status != "all":
        query = query.where(conversations.c.status == status)
    query = query.order_by(conversations.c.created_at.desc(), conversations.c.id).limit(limit)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(query).all()
        last = _last_messages(conn, [row.id for row in rows])
    return [
        {
            "id": row.id,
            "external_id": row.external_id,
            "status": row.status,
            "agent_id": row.agent_id,
            "assigned": actor.user_id is not None and row.agent_id == actor.user_id,
            "visitor": {"name": row.visitor_name},
            "created_at": rfc3339(row.created_at),
            "closed_at": rfc3339(row.closed_at) if row.closed_at else None,
            "last_message": last.get(row.id),
        }
        for row in rows
    ]


def _last_messages(conn: Any, ids: list[str]) -> dict[str, dict[str, str]]:
    if not ids:
        return {}
    newest = (
        select(func.max(messages.c.id))
        .where(messages.c.conversation_id.in_(ids))
        .group_by(messages.c.conversation_id)
    )
    rows = conn.execute(select(messages).where(messages.c.id.in_(newest))).all()
    return {
        row.conversation_id: {"at": rfc3339(row.at), "author": row.author, "text": row.text}
        for row in rows
    }


def _may_read(rt: Runtime, actor: Actor, conversation: Any) -> list[str]:
    """The conversation's participants, once the actor is known to be allowed to read it."""
    if actor.role not in _READERS:
        raise Forbidden()
    present = list_participants(rt, conversation.id)
    if actor.role == Role.AGENT and actor.user_id not in present:
        raise Forbidden("This conversation is not one of yours.")
    return present


def conversation_detail(rt: Runtime, actor: Actor, conversation_id: str) -> dict[str, Any]:
    """One conversation: who is on it, and the secure forms this actor sent into it."""
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    present = _may_read(rt, actor, conversation)
    return {
        "id": conversation.id,
        "external_id": conversation.external_id,
        "status": conversation.status,
        "agent_id": conversation.agent_id,
        "assigned": actor.user_id is not None and conversation.agent_id == actor.user_id,
        "visitor": {"name": conversation.visitor_name},
        "created_at": rfc3339(conversation.created_at),
        "closed_at": rfc3339(conversation.closed_at) if conversation.closed_at else None,
        "participants": present,
        "secure_forms": _sent_by(rt, actor, conversation),
    }


def _sent_by(rt: Runtime, actor: Actor, conversation: Any) -> list[dict[str, Any]]:
    if actor.user_id is None:
        return []
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(form_requests)
            .where(
                form_requests.c.site_id == actor.site_id,
                form_requests.c.conversation_id == conversation.id,
                form_requests.c.agent_id == actor.user_id,
            )
            .order_by(form_requests.c.created_at, form_requests.c.id)
        ).all()
    now, active = utcnow(), conversation.status == ACTIVE
    sent = []
    for row in rows:
        definition = load_version(rt, actor.site_id, row.form_id, row.form_version)
        waiting = row.status in (SENT, OPENED)
        # Closing revoked every key of the chat; a key past its time is as dead.
        dead = waiting and (not active or aware(row.expires_at) <= now)
        item: dict[str, Any] = {
            "request_id": row.id,
            "form_id": row.form_id,
            "title": definition.title,
            "status": EXPIRED if dead else row.status,
            "sent_at": rfc3339(row.created_at),
            "sent_by": sent_by(row),
            "expires_at": rfc3339(row.expires_at),
            "fields": [
                {"name": f.name, "label": f.label, "off_the_record": f.off_the_record}
                for f in definition.fields
            ],
        }
        if row.submission_id:
            item["submission_id"] = row.submission_id
        sent.append(item)
    return sent


def chat_lines(rt: Runtime, actor: Actor, detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The transcript as the workspace shows it: who spoke, and whether it was this agent.

    Each line's kind ("from") is stored with it, so a visitor named "system" or named like
    the agent is still shown as the visitor.
    """
    me = actor.label if actor.user_id is not None else None
    return [
        {**line, "mine": line["from"] == AGENT and line["author"] == me}
        for line in transcript(rt, actor, detail["id"])
    ]


def latest_event_id(rt: Runtime, actor: Actor) -> str:
    """Where the agent's stream ends now: a page rendered with what is already known
    listens from here on."""
    if actor.user_id is None:
        return "0"
    key = notifications.stream_key(actor.site_id, actor.user_id)
    newest: list[tuple[bytes, Any]] = rt.redis.xrevrange(key, count=1)  # type: ignore[assignment]
    return newest[0][0].decode() if newest else "0"
