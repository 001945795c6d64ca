"""How data leaves when a conversation ends, is transferred or must be erased.

Closing revokes every outstanding key of the conversation and deletes its
off-the-record answers at once; a transfer revokes the retrieve keys (the sender loses
access immediately); erasure deletes the stored answers too.
"""

from __future__ import annotations

from sqlalchemy import select

from core import audit, outbox
from core.actors import Actor, Role
from core.errors import NotFound
from core.runtime import Runtime
from core.schema import conversations


def otk_groups(conversation_id: str, action: str) -> tuple[str, ...]:
    """The revocation groups a new key of a conversation joins."""
    groups: tuple[str, ...] = (f"conversation:{conversation_id}",)
    if action == "retrieve":
        groups += (f"conversation-retrieve:{conversation_id}",)
    return groups


def on_closed(rt: Runtime, site_id: str, conversation_id: str) -> dict[str, int]:
    revoked = rt.otks.revoke_group(f"conversation:{conversation_id}")
    records = rt.vault.for_conversation(site_id, conversation_id)
    for record in records:
        if record.off_record_fields:
            rt.off_record.delete(site_id, record.id)
    return {"keys_revoked": revoked, "submissions": len(records)}


def on_transferred(rt: Runtime, conversation_id: str) -> int:
    return rt.otks.revoke_group(f"conversation-retrieve:{conversation_id}")


def _erase(rt: Runtime, site_id: str, conversation_id: str, user_id: str | None) -> int:
    """Erase every submission of a conversation now: stored, off the record, and keys."""
    rt.otks.revoke_group(f"conversation:{conversation_id}")
    erased = rt.vault.erase_conversation(site_id, conversation_id)
    for submission_id in erased:
        rt.off_record.delete(site_id, submission_id)
    # The vault is another database: the audit entry and the webhook events commit
    # together, after the erasure they report.
    with rt.app_engine.begin() as conn:
        audit.record(
            rt,
            site_id=site_id,
            type="submissions.erased",
            user_id=user_id,
            resource=f"conversation:{conversation_id};submissions={len(erased)}",
            conn=conn,
        )
        for submission_id in erased:
            outbox.emit_request(
                conn, site_id, "secure_form.erased", submission_id=submission_id, erased=True
            )
    return len(erased)


def erase_for_admin(rt: Runtime, actor: Actor, conversation_id: str) -> dict[str, int]:
    actor.require_role(Role.ADMIN)
    if site_of_conversation(rt, conversation_id) != actor.site_id:
        raise NotFound("No such conversation on this site.")
    return {"erased": _erase(rt, actor.site_id, conversation_id, actor.user_id)}


def erase_as_operator(rt: Runtime, site_id: str, conversation_id: str) -> int:
    """The CLI's erasure: the operator names a conversation, its site comes from the DB."""
    return _erase(rt, site_id, conversation_id, None)


def site_of_conversation(rt: Runtime, conversation_id: str) -> str | None:
    with rt.app_engine.connect() as conn:
        return conn.execute(
            select(conversations.c.site_id).where(conversations.c.id == conversation_id)
        ).scalar()
