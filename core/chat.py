"""The visitor's side: chatting with an agent, and the secure forms sent into that chat.

A visitor never logs in. A chat token (Redis, stored as a hash, bound to one site and one
conversation) lets them read and write that conversation and nothing else; a chat
platform's back end asks for one, or the demo chat page makes one. What the visitor sees
arrives on the conversation's visitor stream (core.visitor_stream); what they write is
masked before it is stored and reaches the agents on their own streams at once.

The secure form a visitor fills is reached with one-time keys only; the helpers at the end
read what its page needs without spending them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core import form_requests, notifications
from core.actors import Actor, Role
from core.clock import aware, rfc3339, utcnow
from core.conversations import (
    ACTIVE,
    VISITOR,
    add_system_message,
    create_conversation,
    get_conversation,
    notify_chat_message,
)
from core.errors import (
    ConversationClosed,
    Forbidden,
    InvalidOrExpired,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from core.forms.catalogue import load_version
from core.forms.definitions import FormDefinition
from core.forms.fields import SubmissionInvalid, validate_values
from core.forms.masking import mask_numbers_in_text
from core.runtime import Runtime
from core.schema import conversations, sites, users
from core.schema import form_requests as form_requests_table
from core.sites import find_site_by_name, site_exists
from core.text import storable
from core.visitor_stream import publish_to_visitor, visitor_recipient
from vault import OtkClaims

TOKEN_PREFIX = "sfv_"  # noqa: S105 (a prefix, not a secret)
TOKEN_TTL_S = 4 * 3600  # sliding: each use keeps a chat that is still going alive
MAX_MESSAGE = 5000
MAX_NAME = 200
HISTORY_LIMIT = 500
SENT, EXPIRED = form_requests.SENT, form_requests.EXPIRED
_KEY = "sf:chat-visitor:"
DEMO_SITE_NAME = "Demo"  # what `secureforms demo seed` calls its site


@dataclass(frozen=True)
class Visitor:
    site_id: str
    conversation_id: str
    name: str | None
    token_hash: str  # what other bindings (CSRF) may use; never the token itself

    @property
    def label(self) -> str:
        return self.name or "Visitor"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mint(rt: Runtime, site_id: str, conversation_id: str, name: str | None) -> dict[str, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = _KEY + _hash(token)
    pipe = rt.redis.pipeline()
    pipe.hset(key, mapping={"site": site_id, "conversation": conversation_id, "name": name or ""})
    pipe.expire(key, TOKEN_TTL_S)
    pipe.execute()
    expires_at = utcnow() + timedelta(seconds=TOKEN_TTL_S)
    return {"token": token, "expires_at": rfc3339(expires_at)}


def visitor_token(rt: Runtime, actor: Actor, conversation_id: str) -> dict[str, str]:
    """A chat token for the visitor of a conversation, for a platform's visitor client."""
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    if actor.role == Role.AGENT:
        if conversation.agent_id != actor.user_id:
            raise Forbidden("Only the assigned agent can invite the visitor.")
    elif actor.role not in (Role.SITE_KEY, Role.ADMIN):
        raise Forbidden()
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    return _mint(rt, actor.site_id, conversation_id, conversation.visitor_name)


def _least_busy_agent(rt: Runtime, site_id: str) -> str | None:
    with rt.app_engine.connect() as conn:
        agents = (
            conn.execute(
                select(users.c.id)
                .where(
                    users.c.site_id == site_id,
                    users.c.role == Role.AGENT.value,
                    users.c.enabled.is_(True),
                )
                .order_by(users.c.created_at, users.c.id)
            )
            .scalars()
            .all()
        )
        load: dict[str | None, int] = dict(
            conn.execute(
                select(conversations.c.agent_id, func.count())
                .where(conversations.c.site_id == site_id, conversations.c.status == ACTIVE)
                .group_by(conversations.c.agent_id)
            ).all()
        )
        return min(agents, key=lambda agent_id: load.get(agent_id, 0), default=None)


def start_demo_chat(
    rt: Runtime, site_id: str, name: str | None, agent_id: str | None = None
) -> dict[str, Any]:
    """The demo chat window's "Start a chat": a conversation and the visitor's token.

    It stands in for a chat platform, so it is refused in production, where a platform's
    back end creates conversations with its site key and asks for `visitor_token`.
    """
    if rt.settings.is_production:
        raise NotFound("The demo chat is not available in production.")
    if not site_exists(rt, site_id):
        raise NotFound("No such site.")
    name = "".join(ch for ch in (name or "") if ch.isprintable()).strip()[:MAX_NAME] or None
    agent_id = agent_id or _least_busy_agent(rt, site_id)
    site = Actor(site_id=site_id, role=Role.SITE_KEY)
    conversation = create_conversation(rt, site, name, agent_id)
    return {"conversation_id": conversation["id"], **_mint(rt, site_id, conversation["id"], name)}


def resolve_visitor(rt: Runtime, token: object) -> Visitor:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise Unauthenticated()
    key = _KEY + _hash(token)
    pipe = rt.redis.pipeline()
    pipe.hgetall(key)
    pipe.expire(key, TOKEN_TTL_S)
    found, _ = pipe.execute()
    if not found:
        raise Unauthenticated()
    name = found[b"name"].decode()
    return Visitor(
        site_id=found[b"site"].decode(),
        conversation_id=found[b"conversation"].decode(),
        name=name or None,
        token_hash=_hash(token),
    )


def end_visitor(rt: Runtime, token: str) -> None:
    rt.redis.delete(_KEY + _hash(token))


def post_visitor_message(rt: Runtime, visitor: Visitor, text: str) -> dict[str, Any]:
    if not storable(text) or not text.strip() or len(text) > MAX_MESSAGE:
        raise ValidationFailed(
            "A message is 1 to 5000 characters of text.",
            fields={"text": "1 to 5000 characters of text."},
        )
    conversation = get_conversation(rt, visitor.site_id, visitor.conversation_id)
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    masked, found = mask_numbers_in_text(text)
    at = utcnow()
    add_system_message(rt, conversation.id, visitor.label, masked, at=at, sender=VISITOR)
    notify_chat_message(rt, conversation, visitor.label, masked, at, found)
    return {
        "at": rfc3339(at),
        "author": visitor.label,
        "text": masked,
        "card_number_masked": found,
    }


def chat_state(rt: Runtime, visitor: Visitor) -> dict[str, Any]:
    """What the chat window shows when it (re)loads: who, whether open, and the history."""
    conversation = get_conversation(rt, visitor.site_id, visitor.conversation_id)
    agent_name = None
    if conversation.agent_id:
        with rt.app_engine.connect() as conn:
            agent_name = conn.execute(
                select(users.c.display_name).where(
                    users.c.id == conversation.agent_id, users.c.site_id == visitor.site_id
                )
            ).scalar()
    recipient = visitor_recipient(visitor.conversation_id)
    events = notifications.history(rt, visitor.site_id, recipient, HISTORY_LIMIT)
    forms = _form_states(rt, visitor, events)
    if conversation.status != ACTIVE:  # closing revoked every key the chat still had
        forms = {
            rid: EXPIRED if st in (SENT, form_requests.OPENED) else st for rid, st in forms.items()
        }
    for event in events:
        if event["type"] == "chat.secure_form" and forms.get(event["data"]["request_id"]) != SENT:
            event["data"].pop("url", None)  # a spent or dead link is no use to anyone
    return {
        "conversation_id": conversation.id,
        "status": conversation.status,
        "agent_name": agent_name,
        "visitor_name": visitor.name,
        "events": events,
        "forms": forms,
        "last_event_id": events[-1]["id"] if events else "0",
    }


def _form_states(rt: Runtime, visitor: Visitor, events: list[dict[str, Any]]) -> dict[str, str]:
    """Where each form sent into the chat stands, so its card can say so (no values)."""
    ids = [e["data"]["request_id"] for e in events if e["type"] == "chat.secure_form"]
    if not ids:
        return {}
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(
                form_requests_table.c.id,
                form_requests_table.c.status,
                form_requests_table.c.expires_at,
            ).where(
                form_requests_table.c.id.in_(ids),
                form_requests_table.c.site_id == visitor.site_id,
                form_requests_table.c.conversation_id == visitor.conversation_id,
            )
        ).all()
    now = utcnow()
    states = {}
    for row in rows:
        waiting = row.status in (SENT, form_requests.OPENED)
        states[row.id] = EXPIRED if waiting and aware(row.expires_at) <= now else row.status
    return states


def send_form_in_chat(
    rt: Runtime, actor: Actor, conversation_id: str, form_id: str, language: object = None
) -> dict[str, Any]:
    """Send a secure form and put it in the visitor's chat as a card with its link.

    The link (it holds the open key) goes to the visitor's stream only, never to the
    transcript, which says "Secure form '...' sent" and nothing more.
    """
    sent = form_requests.send_form(rt, actor, conversation_id, form_id, language=language)
    title = preview_title(rt, sent["otk"])
    publish_to_visitor(
        rt,
        actor.site_id,
        conversation_id,
        "chat.secure_form",
        {"request_id": sent["request_id"], "title": title, "expires_at": sent["expires_at"]},
        # The link holds the open key: it lives beside the stream no longer than the key.
        held=notifications.Held(
            {"url": sent["visitor_url"]}, datetime.fromisoformat(sent["expires_at"])
        ),
    )
    return {"request_id": sent["request_id"], "expires_at": sent["expires_at"]}


# -- the secure form's page ------------------------------------------------------------
# These only peek at keys; spending them stays with core.form_requests.


@dataclass(frozen=True)
class FormLink:
    """What the link's landing page may show before the visitor chooses to open it."""

    site_id: str
    title: str
    expires_at: datetime
    language: str | None = None  # the sender's choice for the visitor pages
    form_language: str = "en"  # what the form's own texts (its title) are written in


@dataclass(frozen=True)
class OpenForm:
    """A form the visitor has opened and may still submit (its submit key is live)."""

    site_id: str
    request_id: str
    definition: FormDefinition
    expires_at: datetime
    extensions_left: int
    language: str | None = None  # the sender's choice for the visitor pages


def _peek(rt: Runtime, otk: object, action: str) -> OtkClaims:
    if not isinstance(otk, str) or not otk.isascii():  # keys are URL-safe base64
        raise InvalidOrExpired()
    return form_requests.peek_otk(rt, otk, action)


def _live_request(rt: Runtime, claims: OtkClaims, *statuses: str) -> Any:
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(form_requests_table).where(
                form_requests_table.c.id == claims.subject,
                form_requests_table.c.site_id == claims.site_id,
            )
        ).first()
        active = row is not None and (
            conn.execute(
                select(conversations.c.status).where(
                    conversations.c.id == row.conversation_id,
                    conversations.c.site_id == claims.site_id,
                )
            ).scalar()
            == ACTIVE
        )
    if row is None or row.status not in statuses or not active:
        raise InvalidOrExpired()
    return row


def preview_title(rt: Runtime, open_otk: object) -> str:
    return form_link(rt, open_otk).title


def form_link(rt: Runtime, open_otk: object) -> FormLink:
    claims = _peek(rt, open_otk, "open")
    # Opened already, a link may open again (policy link_opens) until it is spent.
    row = _live_request(rt, claims, form_requests.SENT, form_requests.OPENED)
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    return FormLink(
        row.site_id, definition.title, aware(claims.expires_at), row.language, definition.language
    )


def open_form(rt: Runtime, submit_otk: object) -> OpenForm:
    claims = _peek(rt, submit_otk, "submit")
    row = _live_request(rt, claims, form_requests.OPENED)
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    used = int(claims.data.get("ext", 0))
    return OpenForm(
        site_id=row.site_id,
        request_id=row.id,
        definition=definition,
        expires_at=aware(claims.expires_at),
        extensions_left=max(0, form_requests.MAX_EXTENSIONS - used),
        language=row.language,
    )


def check_answers(
    rt: Runtime, submit_otk: object, values: dict[str, Any], names: list[str]
) -> dict[str, str]:
    """The server's own messages for some fields, as the visitor leaves them. Stores nothing
    and spends nothing; other fields' answers are only there for rules that span fields
    (an American Express card has a 4-digit CVV)."""
    form = open_form(rt, submit_otk)
    declared = {spec.name for spec in form.definition.fields}
    wanted = [name for name in names if name in declared]
    known = {k: v for k, v in values.items() if k in declared}
    try:
        validate_values(form.definition.fields, known)
    except SubmissionInvalid as exc:
        return {name: exc.errors[name] for name in wanted if name in exc.errors}
    return {}


def default_demo_site(rt: Runtime) -> str | None:
    """The site the demo chat talks to when none is named: the demo site, or the only one."""
    found = find_site_by_name(rt, DEMO_SITE_NAME)
    if found is not None:
        return found
    with rt.app_engine.connect() as conn:
        ids = conn.execute(select(sites.c.id).limit(2)).scalars().all()
    return ids[0] if len(ids) == 1 else None
