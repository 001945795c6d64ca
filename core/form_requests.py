"""A secure form sent into a conversation: sent -> opened -> submitted -> viewed (or expired).

The visitor never authenticates; each step is bound to the previous one by a one-time
key of its own action: the open key only opens, the submit key only submits.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.client import Pipeline
from sqlalchemy import bindparam, insert, select, update

from core import audit, chatwoot, notifications, outbox
from core.actors import Actor, Role
from core.api_keys import key_label
from core.clock import aware, rfc3339, utcnow
from core.conversations import ACTIVE, add_system_message, add_system_messages, get_conversation
from core.errors import ConversationClosed, Forbidden, InvalidOrExpired, NotFound
from core.forms.catalogue import current, load_version
from core.forms.speech import checked_language
from core.lifecycle import otk_groups
from core.policies import site_policies
from core.runtime import Runtime
from core.schema import conversations, form_requests
from core.senders import agent_for, require_sender, sent_by
from core.visitor_stream import queue_lines_for_visitors
from vault import OtkClaims, VaultError

SENT, OPENED, SUBMITTED, VIEWED, EXPIRED = "sent", "opened", "submitted", "viewed", "expired"
MAX_EXTENSIONS = 10


# The link's key is 128 bits (22 characters): with /f/ the link stays within 80 characters
# (a text message, WhatsApp) for a public URL of up to 55. Other keys keep 256 bits.
LINK_KEY_BYTES = 16


def visitor_url(rt: Runtime, otk: str) -> str:
    return f"{rt.settings.public_url}/f/{otk}"


def link_group(request_id: str) -> str:
    """The revocation group of a request's link key: spent at once when answers arrive."""
    return f"request-link:{request_id}"


def _submit_group(request_id: str) -> str:
    """The group of a request's submit keys: a new open leaves only the newest live."""
    return f"request-submit:{request_id}"


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
    agent_id = agent_for(rt, actor, conversation, agent_id)
    if conversation.status != ACTIVE:
        raise ConversationClosed()
    form, definition = current(rt, actor.site_id, form_id)
    if form.archived:
        raise NotFound("This form is archived.")
    request_id = str(uuid.uuid4())
    # The submission's id is chosen now and carried by the link's key, so every open of
    # the link (policy link_opens) prepares the same submission, stored once.
    issued = rt.otks.issue(
        "open",
        actor.site_id,
        request_id,
        data={"sid": str(uuid.uuid4())},
        groups=(*otk_groups(conversation_id, "open"), link_group(request_id)),
        nbytes=LINK_KEY_BYTES,
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
        link = visitor_url(rt, issued.token)
        chatwoot.relay_link(
            conn, rt, actor.site_id, conversation_id, request_id, definition.title, link
        )
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
        "visitor_url": link,
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


def _set_status(
    rt: Runtime, row: Any, status: str, *also: Any, event: str | None = None, **values: Any
) -> bool:
    """Move `row` on from the status it was read with (and `also` still true), or False
    when something else moved it first; `event` goes to the webhook outbox in the same
    transaction when it did."""
    with rt.app_engine.begin() as conn:
        changed = conn.execute(
            update(form_requests)
            .where(
                form_requests.c.id == row.id,
                form_requests.c.site_id == row.site_id,
                form_requests.c.status == row.status,
                *also,
            )
            .values(status=status, updated_at=utcnow(), **values)
        ).rowcount
        if changed and event is not None:
            outbox.emit_request(conn, row.site_id, event, request_id=row.id)
            chatwoot.relay_status(conn, row.site_id, event, row.id)
    return bool(changed)


def _effective_status(rt: Runtime, row: Any) -> str:
    if row.status in (SENT, OPENED) and aware(row.expires_at) <= utcnow():
        if _set_status(rt, row, EXPIRED, event="secure_form.expired"):
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
    answer: dict[str, Any] = {"request_id": row.id, "status": _effective_status(rt, row)}
    if row.sent_by_key_id is not None:
        answer["sent_by"] = sent_by(row)
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


def _issue_submit(
    rt: Runtime, row: Any, submission_id: str, extensions: int, link_until: datetime | None = None
) -> dict[str, Any]:
    """A submit key; the request lives until it or (`link_until`) the link's key ends."""
    issued = rt.otks.issue(
        "submit",
        row.site_id,
        row.id,
        data={"submission_id": submission_id, "ext": extensions},
        groups=(*otk_groups(row.conversation_id, "submit"), _submit_group(row.id)),
    )
    lives_until = max(issued.expires_at, link_until or issued.expires_at)
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(form_requests)
            .where(form_requests.c.id == row.id, form_requests.c.site_id == row.site_id)
            .values(expires_at=lives_until, updated_at=utcnow())
        )
    return {"submit_otk": issued.token, "expires_at": rfc3339(issued.expires_at)}


def preview(rt: Runtime, otk: object) -> dict[str, Any]:
    """What a link preview may show (title only) without spending the open key."""
    claims = peek_otk(rt, otk, "open")
    row = _request(rt, claims.site_id, claims.subject)
    if row.status not in (SENT, OPENED):
        raise InvalidOrExpired()
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    return {"title": definition.title, "expires_at": rfc3339(claims.expires_at)}


def open_request(rt: Runtime, otk: object) -> dict[str, Any]:
    """Open the link: up to the site's `link_opens` times while the form is unanswered.

    Each open is audited and gives a new submit key (an earlier tab's stops working); the
    last allowed open spends the link's key. Refusals say nothing of why.
    """
    claims = peek_otk(rt, otk, "open")
    row = _request(rt, claims.site_id, claims.subject)
    allowed = site_policies(rt, row.site_id).link_opens
    if row.status not in (SENT, OPENED) or row.opens >= allowed:
        raise InvalidOrExpired()
    if not _conversation_active(rt, row.site_id, row.conversation_id):
        raise InvalidOrExpired()
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    # A compare-and-set on the count: exactly `link_opens` opens get through, however
    # they race.
    moved = _set_status(
        rt,
        row,
        OPENED,
        form_requests.c.opens == row.opens,
        event="secure_form.opened",
        opens=row.opens + 1,
    )
    if not moved:
        raise InvalidOrExpired()
    opens = row.opens + 1
    last = opens >= allowed
    if last:
        # Spent, and counted as redeemed like any key; a close may have beaten us to it.
        with contextlib.suppress(VaultError):
            rt.otks.redeem(otk, "open", site_id=row.site_id, subject=row.id)
    audit.record(
        rt,
        site_id=row.site_id,
        type="form.opened",
        resource=f"request:{row.id};conversation:{row.conversation_id};open={opens}/{allowed}",
    )
    rt.otks.revoke_group(_submit_group(row.id))
    submission_id = str(claims.data.get("sid") or uuid.uuid4())  # older links carry none
    submit = _issue_submit(rt, row, submission_id, 0, None if last else claims.expires_at)
    if opens == 1:
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
    # Never sooner than the request already lives: a link with opens left outlives this key.
    extensions = int(claims.data.get("ext", 0)) + 1
    return _issue_submit(
        rt, row, str(claims.data["submission_id"]), extensions, aware(row.expires_at)
    )


@dataclass(frozen=True)
class Answered:
    """A request its visitor answered, as the worker stores it."""

    site_id: str
    request_id: str
    submission_id: str
    conversation_id: str
    form_title: str


def mark_submitted(
    rt: Runtime,
    site_id: str,
    request_id: str,
    submission_id: str,
    *,
    conversation_id: str,
    form_title: str,
) -> bool:
    """Idempotent: True only for the call that moved the request to `submitted`."""
    answered = Answered(site_id, request_id, submission_id, conversation_id, form_title)
    return bool(mark_all_submitted(rt, [answered]))


def mark_all_submitted(
    rt: Runtime, answered: Sequence[Answered], *, pipe: Pipeline | None = None
) -> set[str]:
    """`mark_submitted` for several, in one transaction: the submission ids whose request
    this moved to `submitted`. Their transcript lines reach the visitors once committed,
    in one round trip of their own, or queued on `pipe` for the caller to send with its
    own commands.

    With each move, in the same transaction: the audit entry, the transcript line, the
    webhook events and the Chatwoot note, so a worker that dies after the commit leaves
    none of them missing for the retry to skip. They are written a site at a time, in the
    order given (each site's audit chain gets its entries in that order): a few statements
    a site, not a few a submission."""
    moved: dict[str, list[Answered]] = {}
    lines: dict[str, list[dict[str, Any]]] = {}
    with rt.app_engine.begin() as conn:
        for a in answered:
            params = {
                "b_request_id": a.request_id,
                "b_site_id": a.site_id,
                "b_submission_id": a.submission_id,
                "b_updated_at": utcnow(),
            }
            # Its own statement, for its own row count: a redelivered submission moves
            # nothing, and nothing below is written for it.
            if conn.execute(_MARK_SUBMITTED, params).rowcount:
                moved.setdefault(a.site_id, []).append(a)
        # Sites in one order in every batch: each takes its site's audit head (a row
        # lock on PostgreSQL), and two batches taking two sites in opposite orders
        # would deadlock.
        for site_id, done in sorted(moved.items()):
            audit.record_many(
                conn,
                site_id=site_id,
                type="form.submitted",
                resources=[f"request:{a.request_id};submission:{a.submission_id}" for a in done],
                origin="worker",
            )
            lines[site_id] = add_system_messages(
                conn,
                [(a.conversation_id, f"Secure form '{a.form_title}' submitted") for a in done],
            )
            targets = outbox.targets_for(conn, site_id, "secure_form.submitted")
            relayed = chatwoot.has_chatwoot(conn, site_id)
            for a in done:
                if targets:
                    outbox.emit_request(
                        conn,
                        site_id,
                        "secure_form.submitted",
                        request_id=a.request_id,
                        targets=targets,
                    )
                if relayed:
                    chatwoot.relay_status(
                        conn, site_id, "secure_form.submitted", a.request_id, has_it=True
                    )
    # Shown once committed: a batch rolled back (and stored again one at a time) must not
    # have told its visitors twice.
    shown = pipe if pipe is not None else rt.redis.pipeline(transaction=False)
    for site_id, rows in lines.items():
        queue_lines_for_visitors(shown, site_id, rows)
    if pipe is None and len(shown):
        shown.execute()
    return {a.submission_id for done in moved.values() for a in done}


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
            chatwoot.relay_status(conn, site_id, "secure_form.viewed", request_id)


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
