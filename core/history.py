"""Engagement history for managers: which secure forms a conversation collected, and their
stored answers, with `secure_forms.view_history`.

Only what the vault stores is ever shown: off-the-record answers (CVV and the like) never
reach a database, so there is nothing here to leak. History does not depend on the
conversation being active (it is for review after the fact), and every reveal is audited
before the values leave this function.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import audit
from core.actors import VIEW_HISTORY, Actor
from core.clock import rfc3339
from core.conversations import get_conversation
from core.errors import NotFound
from core.forms.catalogue import load_version
from core.runtime import Runtime
from core.schema import form_requests
from core.senders import sent_by
from vault import SubmissionRecord, VaultError


def _form(rt: Runtime, record: SubmissionRecord) -> dict[str, Any]:
    try:
        definition = load_version(rt, record.site_id, record.form_id, record.form_version)
    except NotFound:
        return {"id": record.form_id, "version": record.form_version}
    return {
        "id": record.form_id,
        "version": record.form_version,
        "name": definition.name,
        "title": definition.title,
    }


def _senders(rt: Runtime, site_id: str, request_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Who sent each request (core.form_requests.sent_by), by request id."""
    if not request_ids:
        return {}
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(form_requests).where(
                form_requests.c.site_id == site_id, form_requests.c.id.in_(request_ids)
            )
        ).all()
    return {row.id: sent_by(row) for row in rows}


def _summary(
    rt: Runtime, record: SubmissionRecord, senders: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "submission_id": record.id,
        "request_id": record.request_id,
        "form": _form(rt, record),
        "submitted_at": rfc3339(record.created_at),
        "agent_id": record.agent_id,
        "sent_by": senders.get(record.request_id, {"kind": "agent", "agent_id": record.agent_id}),
        "off_the_record_fields": list(record.off_record_fields),
        "expires_at": rfc3339(record.expires_at),
    }


def conversation_history(rt: Runtime, actor: Actor, conversation_id: str) -> dict[str, Any]:
    actor.require(VIEW_HISTORY)
    get_conversation(rt, actor.site_id, conversation_id)  # 404 unless it is of this site
    records = rt.vault.for_conversation(actor.site_id, conversation_id)
    senders = _senders(rt, actor.site_id, [r.request_id for r in records])
    return {
        "conversation_id": conversation_id,
        "submissions": [_summary(rt, r, senders) for r in records],
    }


def history_reveal(rt: Runtime, actor: Actor, submission_id: str) -> dict[str, Any]:
    actor.require(VIEW_HISTORY)
    try:
        record, values = rt.vault.detokenize(actor.site_id, submission_id)
    except VaultError:
        # Absent, of another site, erased, or past retention: all look the same.
        raise NotFound("No such submission on this site.") from None
    audit.record(
        rt,
        site_id=actor.site_id,
        type="form.history_revealed",
        user_id=actor.user_id,
        resource=f"submission:{submission_id};conversation:{record.conversation_id}",
    )
    senders = _senders(rt, actor.site_id, [record.request_id])
    return {**_summary(rt, record, senders), "values": values}
