"""A secure form sent into a conversation: sent -> opened -> submitted -> viewed (or expired).

The visitor never authenticates; each step is bound to the previous one by a one-time
key of its own action: the open key only opens, the submit key only submits.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from core import audit, notifications, outbox
from core.actors import FORWARD_PAYMENTS, USE_SECURE_FORMS, Actor, Role
from core.api_keys import key_label
from core.clock import aware, rfc3339, utcnow
from core.conversations import ACTIVE, add_system_message, get_conversation
from core.errors import ConversationClosed, DomainError, Forbidden, InvalidOrExpired, NotFound
from core.forms.catalogue import current, load_version
from core.forms.speech import checked_language
from core.lifecycle import otk_groups
from core.profiles import profile_for
from core.runtime import Runtime
from core.schema import conversations, form_requests, users
from vault import OtkClaims, VaultError

SENT, OPENED, SUBMITTED, VIEWED, EXPIRED = "sent", "opened", "submitted", "viewed", "expired"
MAX_EXTENSIONS = 10


def visitor_url(rt: Runtime, otk: str) -> str:
    return f"{rt.settings.public_url}/f/{otk}"


def require_sender(actor: Actor) -> None:
    """Sending a form takes either permission: an agent who may only forward payment
    details sends card forms whose answers they never see."""
    if not {USE_SECURE_FORMS, FORWARD_PAYMENTS} & actor.permissions:
        raise Forbidden()


class AgentNotEligible(DomainError):
    """A site key named an agent the form cannot be sent for; the message says which rule."""

    status, code = 422, "agent_not_eligible"
    default_message = "The form cannot be sent for this agent."

    def __init__(self, rule: str) -> None:
        super().__init__(rule, fields={"agent_id": rule})


def _agent_for_key(rt: Runtime, actor: Actor, conversation: Any, agent_id: str | None) -> str:
    """The agent a site key sends for: named, an enabled agent of the site, the
    conversation's assigned agent, holding secure_forms.use. A bot sends; a human reads."""
    if agent_id is None:
        raise AgentNotEligible("agent_id is required with an API key: the agent who will read.")
    with rt.app_engine.connect() as conn:
        agent = conn.execute(
            select(users.c.role, users.c.enabled, users.c.profile_id).where(
                users.c.id == agent_id, users.c.site_id == actor.site_id
            )
        ).first()
        if agent is None or agent.role != Role.AGENT.value or not agent.enabled:
            raise AgentNotEligible("agent_id names no enabled agent of this site.")
        if conversation.agent_id != agent_id:
            raise AgentNotEligible("The agent is not the conversation's assigned agent.")
        _, granted = profile_for(conn, actor.site_id, Role.AGENT, agent.profile_id)
    if USE_SECURE_FORMS not in granted:
        raise AgentNotEligible(f"The agent does not hold {USE_SECURE_FORMS} (use secure forms).")
    return agent_id


def _sender(rt: Runtime, actor: Actor, conversation: Any, agent_id: str | None) -> str:
    """The agent the request is for, whoever sends it."""
    if actor.role == Role.SITE_KEY:
        return _agent_for_key(rt, actor, conversation, agent_id)
    require_sender(actor)
    if agent_id not in (None, actor.user_id):
        raise Forbidden("An agent sends secure forms only as themselves.")
    if conversation.agent_id != actor.user_id:
        raise Forbidden("Only the agent assigned to this conversation can send a secure form.")
    assert actor.user_id is not None
    return actor.user_id


def sent_by(row: Any) -> dict[str, Any]:
    """Who sent a request: a site key (by its name then) for the agent, or the agent."""
    if row.sent_by_key_id is not None:
        return {"kind": "api_key", "name": row.sent_by_name}
    return {"kind": "agent", "agent_id": row.agent_id}


def send_form(
    rt: Runtime,
    actor: Actor,
    conversation_id: str,
    form_id: str,
    agent_id: str | None = None,
    *,
    language: object = None,
) -> dict[str, Any]:
    """Send a form into a conversation: an agent for themselves, or a site key with
    `secure_forms` for the conversation's agent (`agent_id`), who alone can reveal it.
    `language`: the visitor pages' language, chosen by the sender (None: the visitor's
    browser, then the site's default, choose)."""
    chosen = checked_language(language)
    conversation = get_conversation(rt, actor.site_id, conversation_id)
    agent_id = _sender(rt, actor, conversation, agent_id)
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    form, definition = current(rt, actor.site_id, form_id)
    if form.archived:
        raise NotFound("This form is archived.")
    request_id = str(uuid.uuid4())
    issued = rt.otks.issue(
        "open", actor.site_id, request_id, groups=otk_groups(conversation_id, "open")
    )
    now = utcnow()
    with rt.app_engine.begin() as conn:
        conn.execute(
            insert(form_requests).values(
                id=request_id,
                site_id=actor.site_id,
                conversation_id=conversation_id,
                agent_id=agent_id,
                form_id=form_id,
                form_version=form.version,
                status=SENT,
                created_at=now,
                expires_at=issued.expires_at,
                updated_at=now,
                sent_by_key_id=actor.key_id,
                sent_by_name=actor.key_name,
                language=chosen,
            )
        )
        add_system_message(
            rt, conversation_id, "system", f"Secure form '{definition.title}' sent", conn=conn
        )
        by_key = f";agent:{agent_id};{key_label(actor)}" if actor.key_id is not None else ""
        outbox.emit_request(conn, actor.site_id, "secure_form.sent", request_id=request_id)
        audit.record(
            rt,
            site_id=actor.site_id,
            type="form.sent",
            user_id=actor.user_id,
            resource=f"request:{request_id};conversation:{conversation_id};form:{form_id}" + by_key,
            conn=conn,
        )
    return {
        "request_id": request_id,
        "otk": issued.token,
        "visitor_url": visitor_url(rt, issued.token),
        "expires_at": rfc3339(issued.expires_at),
    }


# Built once: SQLAlchemy spends more CPU building and keying a statement than SQLite
# spends running these, and the visitor's steps run them on every request.
_BY_ID = (
    form_requests.c.id == bindparam("b_request_id"),
    form_requests.c.site_id == bindparam("b_site_id"),
)
_REQUEST = select(form_requests).where(*_BY_ID)
_MARK_SUBMITTED = (
    update(form_requests)
    .where(*_BY_ID, form_requests.c.status.in_((SENT, OPENED, EXPIRED)))
    .values(
        status=SUBMITTED,
        submission_id=bindparam("b_submission_id"),
        updated_at=bindparam("b_updated_at"),
    )
)


def _request(rt: Runtime, site_id: str, request_id: str) -> Any:
    with rt.app_engine.connect() as conn:
        row = conn.execute(_REQUEST, {"b_request_id": request_id, "b_site_id": site_id}).first()
    if row is None:
        raise NotFound("No such secure form request on this site.")
    return row


def _set_status(rt: Runtime, row: Any, status: str, event: str | None = None) -> bool:
    """Move the request on from the status `row` read; `event` goes to the webhook outbox
    in the same transaction when it did."""
    with rt.app_engine.begin() as conn:
        changed = conn.execute(
            update(form_requests)
            .where(
                form_requests.c.id == row.id,
                form_requests.c.site_id == row.site_id,
                form_requests.c.status == row.status,
            )
            .values(status=status, updated_at=utcnow())
        ).rowcount
        if changed and event is not None:
            outbox.emit_request(conn, row.site_id, event, request_id=row.id)
    return bool(changed)


def _effective_status(rt: Runtime, row: Any) -> str:
    if row.status in (SENT, OPENED) and aware(row.expires_at) <= utcnow():
        if _set_status(rt, row, EXPIRED, "secure_form.expired"):
            notifications.publish(
                rt,
                row.site_id,
                row.agent_id,
                "secure_form.expired",
                {"request_id": row.id, "conversation_id": row.conversation_id},
            )
        return EXPIRED
    return str(row.status)


def request_status(rt: Runtime, actor: Actor, request_id: str) -> dict[str, Any]:
    """The sender's view: the agent's own requests, or (a site key) those keys sent."""
    if actor.role != Role.SITE_KEY:
        require_sender(actor)
    row = _request(rt, actor.site_id, request_id)
    if row.agent_id != actor.user_id and not (
        actor.role == Role.SITE_KEY and row.sent_by_key_id is not None
    ):
        raise Forbidden()
    answer: dict[str, Any] = {
        "request_id": row.id,
        "status": _effective_status(rt, row),
        "sent_by": sent_by(row),
    }
    if row.submission_id:
        answer["submission_id"] = row.submission_id
    return answer


def _conversation_active(rt: Runtime, site_id: str, conversation_id: str) -> bool:
    with rt.app_engine.connect() as conn:
        status = conn.execute(
            select(conversations.c.status).where(
                conversations.c.id == conversation_id, conversations.c.site_id == site_id
            )
        ).scalar()
    return status == ACTIVE


def redeem_otk(rt: Runtime, otk: object, action: str, **scope: str) -> OtkClaims:
    """Spend a visitor's key; every failure is the one InvalidOrExpired."""
    try:
        return rt.otks.redeem(otk, action, **scope)
    except VaultError:
        raise InvalidOrExpired() from None


def peek_otk(rt: Runtime, otk: object, action: str) -> OtkClaims:
    """Read a visitor's key without spending it; every failure is InvalidOrExpired."""
    try:
        return rt.otks.peek(otk, action)
    except VaultError:
        raise InvalidOrExpired() from None


def _issue_submit(rt: Runtime, row: Any, submission_id: str, extensions: int) -> dict[str, Any]:
    issued = rt.otks.issue(
        "submit",
        row.site_id,
        row.id,
        data={"submission_id": submission_id, "ext": extensions},
        groups=otk_groups(row.conversation_id, "submit"),
    )
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(form_requests)
            .where(form_requests.c.id == row.id, form_requests.c.site_id == row.site_id)
            .values(expires_at=issued.expires_at, updated_at=utcnow())
        )
    return {"submit_otk": issued.token, "expires_at": rfc3339(issued.expires_at)}


def preview(rt: Runtime, otk: object) -> dict[str, Any]:
    """What a link preview may show (title only) without spending the open key."""
    claims = peek_otk(rt, otk, "open")
    row = _request(rt, claims.site_id, claims.subject)
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    return {"title": definition.title, "expires_at": rfc3339(claims.expires_at)}


def open_request(rt: Runtime, otk: object) -> dict[str, Any]:
    claims = redeem_otk(rt, otk, "open")
    row = _request(rt, claims.site_id, claims.subject)
    if row.status != SENT or not _conversation_active(rt, row.site_id, row.conversation_id):
        raise InvalidOrExpired()
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    if not _set_status(rt, row, OPENED, "secure_form.opened"):
        raise InvalidOrExpired()
    audit.record(
        rt,
        site_id=row.site_id,
        type="form.opened",
        resource=f"request:{row.id};conversation:{row.conversation_id}",
    )
    submit = _issue_submit(rt, row, str(uuid.uuid4()), 0)
    notifications.publish(
        rt,
        row.site_id,
        row.agent_id,
        "secure_form.opened",
        {"request_id": row.id, "conversation_id": row.conversation_id},
    )
    return {"request_id": row.id, "form": definition.to_json(), **submit}


def extend(rt: Runtime, otk: object) -> dict[str, Any]:
    claims = peek_otk(rt, otk, "submit")
    if int(claims.data.get("ext", 0)) >= MAX_EXTENSIONS:
        raise InvalidOrExpired()
    claims = redeem_otk(rt, otk, "submit", site_id=claims.site_id, subject=claims.subject)
    row = _request(rt, claims.site_id, claims.subject)
    if row.status != OPENED or not _conversation_active(rt, row.site_id, row.conversation_id):
        raise InvalidOrExpired()
    return _issue_submit(
        rt, row, str(claims.data["submission_id"]), int(claims.data.get("ext", 0)) + 1
    )


def mark_submitted(
    rt: Runtime,
    site_id: str,
    request_id: str,
    submission_id: str,
    *,
    conversation_id: str,
    form_title: str,
) -> bool:
    """Idempotent: True only for the call that moved the request to `submitted`.

    The audit entry and the transcript line are written in the same transaction, so a
    worker that dies after the commit leaves neither missing for the retry to skip.
    """
    params = {
        "b_request_id": request_id,
        "b_site_id": site_id,
        "b_submission_id": submission_id,
        "b_updated_at": utcnow(),
    }
    with rt.app_engine.begin() as conn:
        changed = conn.execute(_MARK_SUBMITTED, params).rowcount
        if changed:  # in the same transaction: a retried task neither loses nor repeats it
            audit.record(
                rt,
                site_id=site_id,
                type="form.submitted",
                resource=f"request:{request_id};submission:{submission_id}",
                origin="worker",
                conn=conn,
            )
            add_system_message(
                rt, conversation_id, "system", f"Secure form '{form_title}' submitted", conn=conn
            )
            outbox.emit_request(conn, site_id, "secure_form.submitted", request_id=request_id)
    return bool(changed)


def mark_viewed(rt: Runtime, site_id: str, request_id: str) -> None:
    with rt.app_engine.begin() as conn:
        changed = conn.execute(
            update(form_requests)
            .where(
                form_requests.c.id == request_id,
                form_requests.c.site_id == site_id,
                form_requests.c.status == SUBMITTED,
            )
            .values(status=VIEWED, updated_at=utcnow())
        ).rowcount
        if changed:  # the first reveal only: a second look changes nothing
            outbox.emit_request(conn, site_id, "secure_form.viewed", request_id=request_id)


def retention_deadline(submitted_at: datetime, retention_days: int) -> datetime:
    return submitted_at + timedelta(days=retention_days)


def sweep_expired(rt: Runtime, *, batch: int = 500) -> int:
    """Mark requests whose keys ran out as expired and tell their agents (runs from beat)."""
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(form_requests)
            .where(
                form_requests.c.status.in_((SENT, OPENED)),
                form_requests.c.expires_at <= utcnow(),
            )
            .limit(batch)
        ).all()
    return sum(1 for row in rows if _effective_status(rt, row) == EXPIRED)
