"""Conversations: who is assigned, who is watching, messages and the transcript.

The transcript is a place plaintext must never reach, so any card number or SSN typed into
the plain chat is masked before it is stored (core.forms.masking).

Agents hear about their conversations on their event streams: `conversation.assigned`
when someone else gives them one (a visitor's chat, a transfer), `conversation.transferred`
when one is taken from them, `conversation.closed` when one ends, and `chat.message`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from configs.database import insert_unless_present
from core import lifecycle, notifications, outbox
from core.actors import Actor, Role
from core.clock import rfc3339, utcnow
from core.errors import Conflict, ConversationClosed, Forbidden, NotFound, ValidationFailed
from core.forms.masking import mask_numbers_in_text
from core.runtime import Runtime
from core.schema import conversations, messages, participants, users
from core.text import one_line
from core.visitor_stream import publish_to_visitor, show_to_visitor

ACTIVE, CLOSED = "active", "closed"
# Who wrote a message, stored with it (messages.sender) and sent with it as "from". Pages
# decide how to show a line by this, never by the author's name: a visitor may call
# themselves "system".
VISITOR, AGENT, SYSTEM, BOT = "visitor", "agent", "system", "bot"


def _agent_on_site(conn: Connection, site_id: str, agent_id: str) -> bool:
    return (
        conn.execute(
            select(users.c.id).where(
                users.c.id == agent_id,
                users.c.site_id == site_id,
                users.c.role == Role.AGENT.value,
                users.c.enabled.is_(True),
            )
        ).first()
        is not None
    )


MAX_EXTERNAL_ID = 200


def checked_external_id(value: object) -> str:
    """A platform's own id for a conversation: 1-200 characters on one line."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_EXTERNAL_ID or not one_line(value):
        raise ValidationFailed(
            "external_id is not valid.",
            fields={"external_id": f"1 to {MAX_EXTERNAL_ID} characters on one line."},
        )
    return value


def _external_id_taken() -> Conflict:
    return Conflict(
        "A conversation of this site already has this external_id.",
        fields={"external_id": "Already used on this site."},
    )


# External ids a connector of ours keeps in step with its platform (core.chatwoot_inbound):
# nobody else may name a conversation so, or an agent could make the service post into a
# platform conversation that is not theirs.
RESERVED_PREFIXES = ("chatwoot:",)


def create_conversation(
    rt: Runtime,
    actor: Actor,
    visitor_name: str | None,
    agent_id: str | None,
    external_id: str | None = None,
    *,
    connector: bool = False,
) -> dict[str, Any]:
    if external_id is not None:
        external_id = checked_external_id(external_id)
        if not connector and external_id.lower().startswith(RESERVED_PREFIXES):
            raise ValidationFailed(
                "This external_id is kept by a connector.",
                fields={
                    "external_id": "Ids starting chatwoot: are made by the Chatwoot connector."
                },
            )
    if actor.role == Role.AGENT:
        agent_id = agent_id or actor.user_id
        if agent_id != actor.user_id:
            raise Forbidden("An agent can only open a conversation assigned to themselves.")
    elif actor.role not in (Role.SITE_KEY, Role.ADMIN):
        raise Forbidden()
    conversation_id = str(uuid.uuid4())
    now = utcnow()
    try:
        with rt.app_engine.begin() as conn:
            if agent_id is not None and not _agent_on_site(conn, actor.site_id, agent_id):
                raise NotFound("No such agent on this site.")
            if external_id is not None and _by_external_id(conn, actor.site_id, external_id):
                raise _external_id_taken()
            conn.execute(
                insert(conversations).values(
                    id=conversation_id,
                    site_id=actor.site_id,
                    status=ACTIVE,
                    agent_id=agent_id,
                    visitor_name=visitor_name,
                    created_at=now,
                    external_id=external_id,
                )
            )
            if agent_id is not None:
                conn.execute(
                    insert(participants).values(
                        conversation_id=conversation_id, agent_id=agent_id, joined_at=now
                    )
                )
    except IntegrityError:  # two creates with the same external_id at once
        raise _external_id_taken() from None
    if agent_id is not None and agent_id != actor.user_id:
        _tell_assigned(rt, actor.site_id, agent_id, conversation_id, visitor_name)
    return {
        "id": conversation_id,
        "status": ACTIVE,
        "agent_id": agent_id,
        "external_id": external_id,
    }


def by_external_id(rt: Runtime, site_id: str, external_id: str) -> Any:
    """The site's conversation a platform knows as `external_id`, or None."""
    with rt.app_engine.connect() as conn:
        return conn.execute(
            select(conversations).where(
                conversations.c.site_id == site_id, conversations.c.external_id == external_id
            )
        ).first()


def _by_external_id(conn: Connection, site_id: str, external_id: str) -> str | None:
    return conn.execute(
        select(conversations.c.id).where(
            conversations.c.site_id == site_id, conversations.c.external_id == external_id
        )
    ).scalar()


def _tell_assigned(
    rt: Runtime, site_id: str, agent_id: str, conversation_id: str, visitor_name: str | None
) -> None:
    notifications.publish(
        rt,
        site_id,
        agent_id,
        "conversation.assigned",
        {"conversation_id": conversation_id, "visitor": {"name": visitor_name}},
    )


def get_conversation(rt: Runtime, site_id: str, conversation_id: str) -> Any:
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(conversations).where(
                conversations.c.id == conversation_id, conversations.c.site_id == site_id
            )
        ).first()
    if row is None:
        raise NotFound("No such conversation on this site.")
    return row


def _may_manage(rt: Runtime, actor: Actor, conversation: Any) -> None:
    """Site keys and admins manage any conversation of their site; agents only their own."""
    if actor.role in (Role.SITE_KEY, Role.ADMIN):
        return
    if actor.role == Role.AGENT and conversation.agent_id == actor.user_id:
        return
    raise Forbidden()


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "agent_id": row.agent_id,
        "visitor": {"name": row.visitor_name},
        "created_at": rfc3339(row.created_at),
        "external_id": row.external_id,
    }


def _join(conn: Connection, conversation_id: str, agent_id: str) -> None:
    """Adds the agent to the conversation unless already in it: one statement, so two
    requests adding the same agent at once both succeed and leave one row."""
    insert_unless_present(
        conn,
        participants,
        {"conversation_id": conversation_id, "agent_id": agent_id, "joined_at": utcnow()},
    )


def add_participant(
    rt: Runtime, actor: Actor, conversation_id: str, agent_id: str
) -> dict[str, Any]:
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    _may_manage(rt, actor, conversation)
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    with rt.app_engine.begin() as conn:
        if not _agent_on_site(conn, actor.site_id, agent_id):
            raise NotFound("No such agent on this site.")
        _join(conn, conversation_id, agent_id)
    return _public(get_conversation(rt, actor.site_id, conversation_id)) | {
        "participants": list_participants(rt, conversation_id)
    }


def list_participants(rt: Runtime, conversation_id: str) -> list[str]:
    with rt.app_engine.connect() as conn:
        return list(
            conn.execute(
                select(participants.c.agent_id)
                .where(participants.c.conversation_id == conversation_id)
                .order_by(participants.c.joined_at)
            ).scalars()
        )


def transfer(
    rt: Runtime, actor: Actor, conversation_id: str, agent_id: str | None
) -> dict[str, Any]:
    """Give the conversation to `agent_id`; None leaves it with nobody (a chat platform's
    own agent we have no account for took it), so the agent before can send nothing more."""
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    _may_manage(rt, actor, conversation)
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    with rt.app_engine.begin() as conn:
        if agent_id is not None and not _agent_on_site(conn, actor.site_id, agent_id):
            raise NotFound("No such agent on this site.")
        conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.site_id == actor.site_id)
            .values(agent_id=agent_id)
        )
        if agent_id is not None:
            _join(conn, conversation_id, agent_id)
        if conversation.agent_id != agent_id:
            outbox.emit_conversation(
                conn, conversation, "conversation.transferred", ACTIVE, agent_id
            )
    lifecycle.on_transferred(rt, conversation_id)
    previous = conversation.agent_id
    if previous is not None and previous != agent_id:
        notifications.publish(
            rt,
            actor.site_id,
            previous,
            "conversation.transferred",
            {"conversation_id": conversation_id, "agent_id": agent_id},
        )
    if agent_id is not None and agent_id not in (previous, actor.user_id):
        _tell_assigned(rt, actor.site_id, agent_id, conversation_id, conversation.visitor_name)
    return _public(get_conversation(rt, actor.site_id, conversation_id))


def close(rt: Runtime, actor: Actor, conversation_id: str) -> dict[str, Any]:
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    _may_manage(rt, actor, conversation)
    with rt.app_engine.begin() as conn:
        ended = conn.execute(
            update(conversations)
            .where(
                conversations.c.id == conversation_id,
                conversations.c.site_id == actor.site_id,
                conversations.c.status == ACTIVE,
            )
            .values(status=CLOSED, closed_at=utcnow())
        ).rowcount
        if ended:
            # In the transcript only: the visitor hears `chat.closed` below instead.
            conn.execute(
                insert(messages).values(
                    conversation_id=conversation_id,
                    at=utcnow(),
                    author="system",
                    sender=SYSTEM,
                    text="Chat ended" + (f" by {actor.label}" if actor.is_user else ""),
                )
            )
            outbox.emit_conversation(conn, conversation, "conversation.closed", CLOSED)
    lifecycle.on_closed(rt, actor.site_id, conversation_id)
    publish_to_visitor(rt, actor.site_id, conversation_id, "chat.closed", {})
    if ended:  # once: closing a closed conversation again tells nobody anything new
        for agent_id in list_participants(rt, conversation_id):
            notifications.publish(
                rt,
                actor.site_id,
                agent_id,
                "conversation.closed",
                {"conversation_id": conversation_id},
            )
    return _public(get_conversation(rt, actor.site_id, conversation_id))


def post_message(
    rt: Runtime, actor: Actor, conversation_id: str, text: str, *, author: str | None = None
) -> dict[str, Any]:
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    if actor.role == Role.AGENT:
        if actor.user_id not in list_participants(rt, conversation_id):
            raise Forbidden()
    elif actor.role not in (Role.SITE_KEY, Role.ADMIN):
        raise Forbidden()
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    masked, found = mask_numbers_in_text(text)
    at = utcnow()
    sender = AGENT if actor.is_user else BOT
    add_system_message(rt, conversation_id, author or actor.label, masked, at=at, sender=sender)
    notify_chat_message(
        rt,
        conversation,
        author or actor.label,
        masked,
        at,
        found,
        skip=actor.user_id,
        sender=sender,
    )
    return {
        "at": rfc3339(at),
        "author": author or actor.label,
        "text": masked,
        "card_number_masked": found,
    }


def add_system_message(
    rt: Runtime,
    conversation_id: str,
    author: str,
    text: str,
    *,
    at: Any = None,
    conn: Connection | None = None,
    sender: str = SYSTEM,
) -> None:
    """Add a line to the transcript and show it to the visitor; ``sender`` is its kind
    (a system line unless the caller says who spoke)."""
    values = dict(
        conversation_id=conversation_id, at=at or utcnow(), author=author, text=text, sender=sender
    )
    if conn is not None:
        conn.execute(_INSERT_MESSAGE, values)
        show_to_visitor(rt, conn, values)
        return
    with rt.app_engine.begin() as own:
        own.execute(_INSERT_MESSAGE, values)
        show_to_visitor(rt, own, values)


def add_system_messages(conn: Connection, lines: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """System lines `(conversation_id, text)` in one insert, in `conn`'s transaction; the
    rows, for the caller to show each visitor once committed (core.visitor_stream)."""
    if not lines:
        return []
    now = utcnow()
    rows = [
        dict(conversation_id=cid, at=now, author="system", text=text, sender=SYSTEM)
        for cid, text in lines
    ]
    conn.execute(_INSERT_MESSAGE, rows)
    return rows


def transcript(rt: Runtime, actor: Actor, conversation_id: str) -> list[dict[str, str]]:
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    if actor.role == Role.AGENT and actor.user_id not in list_participants(rt, conversation.id):
        raise Forbidden()
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(messages)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.id)
        ).all()
    return [
        {"at": rfc3339(r.at), "author": r.author, "from": r.sender, "text": r.text} for r in rows
    ]


_INSERT_MESSAGE = insert(messages)


def notify_chat_message(
    rt: Runtime,
    conversation: Any,
    author: str,
    masked_text: str,
    at: Any,
    card_number_found: bool,
    *,
    skip: str | None = None,
    sender: str = VISITOR,
) -> None:
    """Tell the agents on the conversation, now, what was said (masked, never a form value).

    `sender` says who spoke (the visitor's chat calls this without one). A card number
    typed into the plain chat is flagged on the message, and also prompts the assigned
    agent to send a secure form instead.
    """
    data = {
        "conversation_id": conversation.id,
        "at": rfc3339(at),
        "author": author,
        "from": sender,
        "text": masked_text,
        "card_number_masked": card_number_found,
    }
    for agent_id in list_participants(rt, conversation.id):
        if agent_id != skip:
            notifications.publish(rt, conversation.site_id, agent_id, "chat.message", data)
    if card_number_found and conversation.agent_id and conversation.agent_id != skip:
        notifications.publish(
            rt,
            conversation.site_id,
            conversation.agent_id,
            "chat.card_number_detected",
            {"conversation_id": conversation.id, "at": rfc3339(at)},
        )
