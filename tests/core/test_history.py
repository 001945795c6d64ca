"""Engagement history against a real app DB and vault DB: who may read it, what it shows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from core import audit, conversations, history
from core.actors import USE_SECURE_FORMS, VIEW_HISTORY, Actor
from core.clock import utcnow
from core.errors import Forbidden, NotFound
from core.forms import catalogue
from core.runtime import Runtime
from core.users import create_user
from vault import SubmissionRecord

FORM = {
    "name": "payment_card",
    "title": "Payment card",
    "fields": [
        {"name": "card_number", "label": "Card number", "type": "card_number"},
        {"name": "cvv", "label": "CVV", "type": "cvv"},
    ],
}
CARD = "4242424242424242"


def _stored(rt: Runtime, admin: Actor) -> tuple[str, str]:
    """A closed conversation with one stored submission (the CVV went off the record)."""
    agent_id = create_user(rt, admin.site_id, "ada", "correct-horse-9", "agent")
    agent = Actor(
        site_id=admin.site_id,
        role="agent",
        user_id=agent_id,
        permissions=frozenset({USE_SECURE_FORMS}),
    )
    conversation_id = conversations.create_conversation(rt, agent, "V", None)["id"]
    form = catalogue.create_form(rt, admin, FORM)
    now = utcnow()
    record = SubmissionRecord(
        id=str(uuid.uuid4()),
        site_id=admin.site_id,
        conversation_id=conversation_id,
        agent_id=agent_id,
        request_id=str(uuid.uuid4()),
        form_id=form["id"],
        form_version=form["version"],
        off_record_fields=("cvv",),
        created_at=now,
        expires_at=now + timedelta(days=395),
    )
    rt.vault.store(record, {"card_number": CARD})
    conversations.close(rt, agent, conversation_id)
    return conversation_id, record.id


def _manager(admin: Actor, *permissions: str) -> Actor:
    return Actor(
        site_id=admin.site_id,
        role="manager",
        user_id=str(uuid.uuid4()),
        permissions=frozenset(permissions),
    )


def test_history_needs_view_history(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    admin = new_site(rt)
    conversation_id, submission_id = _stored(rt, admin)
    plain = _manager(admin)
    with pytest.raises(Forbidden):
        history.conversation_history(rt, plain, conversation_id)
    with pytest.raises(Forbidden):
        history.history_reveal(rt, plain, submission_id)
    assert audit.list_events(rt, admin.site_id, type="form.history_revealed") == []


def test_a_manager_reads_stored_answers_after_close_and_is_audited(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    conversation_id, submission_id = _stored(rt, admin)
    manager = _manager(admin, VIEW_HISTORY)
    listed = history.conversation_history(rt, manager, conversation_id)
    (summary,) = listed["submissions"]
    assert summary["submission_id"] == submission_id
    assert summary["form"]["title"] == "Payment card"
    assert summary["off_the_record_fields"] == ["cvv"]
    assert CARD not in str(listed)
    revealed = history.history_reveal(rt, manager, submission_id)
    assert revealed["values"] == {"card_number": CARD}  # no CVV: it was never stored
    (entry,) = audit.list_events(rt, admin.site_id, type="form.history_revealed")
    assert entry["user_id"] == manager.user_id
    assert entry["resource"] == f"submission:{submission_id};conversation:{conversation_id}"
    assert CARD not in str(audit.list_events(rt, admin.site_id))


def test_another_sites_history_is_not_found(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    ours, theirs = new_site(rt), new_site(rt)
    conversation_id, submission_id = _stored(rt, ours)
    stranger = _manager(theirs, VIEW_HISTORY)
    with pytest.raises(NotFound):
        history.conversation_history(rt, stranger, conversation_id)
    with pytest.raises(NotFound):
        history.history_reveal(rt, stranger, submission_id)
    with pytest.raises(NotFound):
        history.history_reveal(rt, _manager(ours, VIEW_HISTORY), str(uuid.uuid4()))
