"""Submissions after the queue: tokenize and notify (worker side), then reveal (agent side).

Reveal rules (API.md): only the agent who sent the form, only while they are still the
assigned agent of a still-active conversation, only with a retrieve key of this site for
this submission. Access is checked before the key is touched, so a refused agent cannot
burn the sending agent's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from core import audit, notifications
from core.actors import FORWARD_PAYMENTS, USE_SECURE_FORMS, Actor
from core.clock import rfc3339
from core.conversations import ACTIVE, get_conversation
from core.errors import ConversationClosed, Forbidden, InvalidOrExpired, NotFound
from core.form_requests import Answered, mark_all_submitted, mark_viewed, retention_deadline
from core.forms.catalogue import load_version
from core.forms.masking import masked_values
from core.forwards import forwarded
from core.lifecycle import otk_groups
from core.runtime import Runtime
from vault import Submission, SubmissionRecord, VaultError


def accept_submission(rt: Runtime, submission: Submission) -> bool:
    """Store, keep off-the-record answers, notify. Safe to run again for the same UUID.

    Returns True when this call delivered the notification (False for a redelivery).
    """
    return submission.submission_id in accept_submissions(rt, [submission])


def accept_submissions(rt: Runtime, batch: Sequence[Submission]) -> set[str]:
    """`accept_submission` for several, in a fixed number of steps whatever their number:
    one vault transaction, one Redis round trip for the off-record answers, one app-DB
    transaction, one Redis round trip for the transcript lines, retrieve keys and
    notifications. The ids of those this call notified (a redelivered one is not notified
    again).

    In that order, as for one: the answers are kept before the request says "submitted",
    and the agent hears of it last. A failure anywhere leaves what was done for the next
    try to find and skip."""
    rt.vault.store_many([(_record(s), s.values) for s in batch])
    off_record_deadline = {s.submission_id: _off_record_deadline(s) for s in batch}
    pipe = rt.redis.pipeline(transaction=False)
    for s in batch:
        rt.off_record.put(
            s.site_id,
            s.submission_id,
            s.off_record,
            s.off_record_ttl_ms,
            expires_at_ms=int(off_record_deadline[s.submission_id].timestamp() * 1000),
            pipe=pipe,
        )
    if len(pipe):
        pipe.execute()
    # The visitors' transcript lines, then the retrieve keys and the notifications
    # carrying them: one round trip, once the app DB has committed.
    pipe = rt.redis.pipeline(transaction=False)
    mark_all_submitted(
        rt,
        [
            Answered(s.site_id, s.request_id, s.submission_id, s.conversation_id, s.form_title)
            for s in batch
        ],
        pipe=pipe,
    )
    notified_ttl = notifications.notified_ttl_s(rt)
    notified_at: list[tuple[str, int]] = []
    for s in batch:
        retrieve = rt.otks.issue(
            "retrieve",
            s.site_id,
            s.submission_id,
            data={"agent_id": s.agent_id},
            groups=otk_groups(s.conversation_id, "retrieve"),
            pipe=pipe,
        )
        deadline = off_record_deadline[s.submission_id]
        notifications.queue_once(
            pipe,
            s.site_id,
            s.agent_id,
            "secure_form.submitted",
            {
                "request_id": s.request_id,
                "submission_id": s.submission_id,
                "conversation_id": s.conversation_id,
                "retrieve_otk_expires_at": rfc3339(retrieve.expires_at),
                "off_record_expires_at": (rfc3339(deadline) if s.off_record else None),
            },
            once_key=s.submission_id,
            # Beside the stream (half an hour) only as long as the key itself lives.
            held=notifications.Held({"retrieve_otk": retrieve.token}, retrieve.expires_at),
            notified_ttl=notified_ttl,
        )
        notified_at.append((s.submission_id, len(pipe) - 1))
    answers = pipe.execute()
    return {submission_id for submission_id, at in notified_at if answers[at]}


def _record(s: Submission) -> SubmissionRecord:
    return SubmissionRecord(
        id=s.submission_id,
        site_id=s.site_id,
        conversation_id=s.conversation_id,
        agent_id=s.agent_id,
        request_id=s.request_id,
        form_id=s.form_id,
        form_version=s.form_version,
        off_record_fields=tuple(sorted(s.off_record)),
        created_at=s.submitted_at,
        expires_at=retention_deadline(s.submitted_at, s.retention_days),
    )


def _off_record_deadline(s: Submission) -> datetime:
    # Whole seconds: the agent is told this deadline in RFC 3339 seconds, and a page that
    # says "expired" must not find the value still there for up to a second after.
    deadline = s.submitted_at + timedelta(milliseconds=s.off_record_ttl_ms)
    return deadline.replace(microsecond=0)


def accessible(
    rt: Runtime, actor: Actor, submission_id: str, permission: str = USE_SECURE_FORMS
) -> SubmissionRecord:
    """The submission, if this actor may act on its answers now (reveal's rules)."""
    actor.require(permission)
    try:
        record = rt.vault.get(actor.site_id, submission_id)
    except VaultError:
        raise NotFound("No such submission on this site.") from None
    if record.agent_id != actor.user_id:
        raise Forbidden("Only the agent who sent this form can see the answers.")
    conversation = get_conversation(rt, actor.site_id, record.conversation_id)
    if conversation.status != ACTIVE:
        raise ConversationClosed("The conversation has ended; its answers can no longer be shown.")
    if conversation.agent_id != actor.user_id:
        raise Forbidden("The conversation was transferred; the answers stay with the sender.")
    return record


def issue_retrieve_otk(rt: Runtime, actor: Actor, submission_id: str) -> dict[str, str]:
    # A key serves a reveal or a forward: either permission may ask for a fresh one.
    either = FORWARD_PAYMENTS if FORWARD_PAYMENTS in actor.permissions else USE_SECURE_FORMS
    record = accessible(rt, actor, submission_id, either)
    issued = rt.otks.issue(
        "retrieve",
        actor.site_id,
        submission_id,
        data={"agent_id": actor.user_id},
        groups=otk_groups(record.conversation_id, "retrieve"),
    )
    return {"otk": issued.token, "expires_at": rfc3339(issued.expires_at)}


def redeem_retrieve_otk(rt: Runtime, actor: Actor, submission_id: str, otk: object) -> None:
    """Spend the actor's retrieve key for this submission; InvalidOrExpired otherwise."""
    try:
        claims = rt.otks.redeem(otk, "retrieve", site_id=actor.site_id, subject=submission_id)
    except VaultError:
        raise InvalidOrExpired() from None
    if claims.data.get("agent_id") != actor.user_id:
        raise InvalidOrExpired()


def reveal(rt: Runtime, actor: Actor, submission_id: str, otk: object) -> dict[str, Any]:
    record = accessible(rt, actor, submission_id)
    redeem_retrieve_otk(rt, actor, submission_id, otk)
    try:
        _, values = rt.vault.detokenize(actor.site_id, submission_id)
    except VaultError:
        raise InvalidOrExpired() from None
    if record.off_record_fields:
        status, off_record = rt.off_record.take(actor.site_id, submission_id)
    else:
        status, off_record = "available", {}
    definition = load_version(rt, actor.site_id, record.form_id, record.form_version)
    masked = masked_values(definition.fields, {**values, **off_record})
    sent = forwarded(rt, actor.site_id, submission_id)
    if sent is not None:
        # Where the card went, in place of a number that may no longer be here at all.
        for spec in definition.fields:
            if spec.type == "card_number":
                masked[spec.name] = sent["summary"]
    mark_viewed(rt, actor.site_id, record.request_id)
    audit.record(
        rt,
        site_id=actor.site_id,
        type="form.revealed",
        user_id=actor.user_id,
        resource=f"submission:{submission_id};conversation:{record.conversation_id};"
        f"off_record={status}",
    )
    notifications.publish(
        rt,
        actor.site_id,
        record.agent_id,
        "secure_form.viewed",
        {"request_id": record.request_id, "submission_id": submission_id},
    )
    return {
        "submission_id": submission_id,
        "form": {"name": definition.name, "title": definition.title},
        "values": values,
        "off_the_record": off_record,
        "off_record_status": status,
        "submitted_at": rfc3339(record.created_at),
        # Beside the full values so the agent UI can show these first (brand and last 4).
        "masked": masked,
        "forwarded": sent,
    }
