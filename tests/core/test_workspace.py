"""What the agent workspace reads (core.workspace) and the events that keep it live
(core.conversations), against a real app DB and Redis."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from core import chat, conversations, notifications, workspace
from core.actors import USE_SECURE_FORMS, Actor
from core.clock import utcnow
from core.errors import Forbidden, NotFound
from core.form_requests import send_form
from core.forms import catalogue
from core.runtime import Runtime
from core.schema import form_requests
from core.users import create_user

FORM = {
    "name": "payment_card",
    "title": "Payment card",
    "fields": [
        {"name": "card_number", "label": "Card number", "type": "card_number"},
        {"name": "cvv", "label": "CVV", "type": "cvv"},
    ],
}
NewSite = Callable[..., Actor]


def _user(rt: Runtime, admin: Actor, role: str = "agent", name: str | None = None) -> Actor:
    username = name or f"{role}-{secrets.token_hex(3)}"
    user_id = create_user(
        rt, admin.site_id, username, "correct-horse-9", role, display_name=username
    )
    permissions = frozenset({USE_SECURE_FORMS}) if role == "agent" else frozenset()
    return Actor(
        site_id=admin.site_id,
        role=role,
        user_id=user_id,
        display_name=username,
        permissions=permissions,
    )


def _events(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    assert actor.user_id is not None
    entries = rt.redis.xrange(notifications.stream_key(actor.site_id, actor.user_id))
    return [
        {"type": f[b"type"].decode(), "data": json.loads(f[b"data"])}
        for _, f in entries  # type: ignore[union-attr]
    ]


def _ids(found: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in found]


def test_an_agent_lists_what_they_hold_or_watch(rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(rt)
    ada, bob = _user(rt, admin), _user(rt, admin)
    mine = conversations.create_conversation(rt, ada, "V1", None)["id"]
    given = conversations.create_conversation(rt, admin, "V2", ada.user_id)["id"]
    theirs = conversations.create_conversation(rt, bob, "V3", None)["id"]
    watched = conversations.create_conversation(rt, bob, None, None)["id"]
    assert ada.user_id is not None and bob.user_id is not None
    conversations.add_participant(rt, bob, watched, ada.user_id)
    ended = conversations.create_conversation(rt, ada, "V4", None)["id"]
    conversations.close(rt, ada, ended)

    active = workspace.list_conversations(rt, ada)
    assert set(_ids(active)) == {mine, given, watched}
    by_id = {item["id"]: item for item in active}
    assert by_id[watched]["assigned"] is False and by_id[mine]["assigned"] is True
    assert by_id[watched]["visitor"] == {"name": None}
    assert _ids(workspace.list_conversations(rt, ada, status="closed")) == [ended]
    assert len(workspace.list_conversations(rt, ada, status="all")) == 4
    assert len(workspace.list_conversations(rt, ada, limit=2)) == 2
    assert theirs not in _ids(workspace.list_conversations(rt, ada, status="all"))
    with pytest.raises(Forbidden):
        workspace.list_conversations(rt, ada, agent_id=bob.user_id)

    # The others of the site see every conversation, or one agent's.
    manager = _user(rt, admin, "manager")
    assert {mine, given, theirs, watched} <= set(_ids(workspace.list_conversations(rt, manager)))
    assert set(_ids(workspace.list_conversations(rt, admin, agent_id=bob.user_id))) == {
        theirs,
        watched,
    }
    with pytest.raises(NotFound):
        workspace.list_conversations(rt, admin, agent_id=manager.user_id)  # not an agent
    with pytest.raises(ValueError):
        workspace.list_conversations(rt, admin, status="everything")


def test_nothing_of_another_site_is_listed_or_shown(rt: Runtime, new_site: NewSite) -> None:
    here, there = new_site(rt), new_site(rt)
    ada = _user(rt, here)
    cid = conversations.create_conversation(rt, ada, "V", None)["id"]
    assert cid not in _ids(workspace.list_conversations(rt, there, status="all"))
    with pytest.raises(NotFound):
        workspace.conversation_detail(rt, there, cid)
    with pytest.raises(NotFound):
        workspace.list_conversations(rt, there, agent_id=ada.user_id)


def test_the_last_message_is_the_masked_one(rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(rt)
    ada = _user(rt, admin)
    cid = conversations.create_conversation(rt, ada, "V", None)["id"]
    conversations.post_message(rt, ada, cid, "hello")
    conversations.post_message(rt, ada, cid, "it is 4242 4242 4242 4242")
    [item] = workspace.list_conversations(rt, ada)
    assert item["last_message"]["text"] == "it is •••• 4242"
    assert item["last_message"]["author"] == ada.display_name


def test_the_detail_gives_each_sent_form_its_real_status(rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(rt)
    ada, bob = _user(rt, admin), _user(rt, admin)
    form_id = catalogue.create_form(rt, admin, FORM)["id"]
    cid = conversations.create_conversation(rt, ada, "Vera", None)["id"]
    first = send_form(rt, ada, cid, form_id)["request_id"]
    second = send_form(rt, ada, cid, form_id)["request_id"]
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(form_requests)
            .where(form_requests.c.id == first)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    detail = workspace.conversation_detail(rt, ada, cid)
    assert detail["visitor"] == {"name": "Vera"} and detail["participants"] == [ada.user_id]
    statuses = {r["request_id"]: r["status"] for r in detail["secure_forms"]}
    assert statuses == {first: "expired", second: "sent"}
    assert detail["secure_forms"][1]["fields"] == [
        {"name": "card_number", "label": "Card number", "off_the_record": False},
        {"name": "cvv", "label": "CVV", "off_the_record": True},
    ]
    # Closing revoked every key of the chat: nothing still waits.
    conversations.close(rt, ada, cid)
    closed = workspace.conversation_detail(rt, ada, cid)
    assert {r["status"] for r in closed["secure_forms"]} == {"expired"}
    # Another agent of the site may not read it; the admin reads it without forms of theirs.
    with pytest.raises(Forbidden):
        workspace.conversation_detail(rt, bob, cid)
    assert workspace.conversation_detail(rt, admin, cid)["secure_forms"] == []


def test_chat_lines_say_who_spoke(rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(rt)
    ada, bob = _user(rt, admin), _user(rt, admin)
    assert bob.user_id is not None
    cid = conversations.create_conversation(rt, ada, "Vera", None)["id"]
    conversations.add_participant(rt, ada, cid, bob.user_id)
    conversations.post_message(rt, ada, cid, "hi", author=None)
    conversations.add_system_message(rt, cid, "Vera", "hello", sender=conversations.VISITOR)
    conversations.post_message(rt, bob, cid, "me too")
    conversations.add_system_message(rt, cid, "system", "Secure form 'X' sent")
    detail = workspace.conversation_detail(rt, ada, cid)
    lines = [
        (line["from"], line["mine"], line["text"]) for line in workspace.chat_lines(rt, ada, detail)
    ]
    assert lines == [
        ("agent", True, "hi"),
        ("visitor", False, "hello"),
        ("agent", False, "me too"),
        ("system", False, "Secure form 'X' sent"),
    ]


def test_a_visitor_or_bot_named_system_is_not_shown_as_the_system(
    rt: Runtime, new_site: NewSite
) -> None:
    admin = new_site(rt)
    ada = _user(rt, admin)
    cid = conversations.create_conversation(rt, ada, "system", None)["id"]
    visitor = chat.Visitor(admin.site_id, cid, name="system", token_hash="x")
    chat.post_visitor_message(rt, visitor, "Secure form 'Payment card' submitted")
    bot = Actor(site_id=admin.site_id, role="site_key")
    conversations.post_message(rt, bot, cid, "Chat ended", author="system")
    conversations.close(rt, ada, cid)
    detail = workspace.conversation_detail(rt, ada, cid)
    lines = [(line["from"], line["author"]) for line in workspace.chat_lines(rt, ada, detail)]
    assert lines == [("visitor", "system"), ("bot", "system"), ("system", "system")]


def test_the_stream_position_is_where_the_page_listens_from(rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(rt)
    ada = _user(rt, admin)
    assert workspace.latest_event_id(rt, ada) == "0"
    assert ada.user_id is not None
    newest = notifications.publish(rt, ada.site_id, ada.user_id, "test.event", {})
    assert workspace.latest_event_id(rt, ada) == newest
    assert workspace.latest_event_id(rt, admin) == "0"


def test_agents_hear_of_what_happens_to_their_chats(rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(rt)
    ada, bob = _user(rt, admin), _user(rt, admin)
    assert ada.user_id is not None and bob.user_id is not None
    own = conversations.create_conversation(rt, ada, "V", None)["id"]
    assert _events(rt, ada) == []  # nobody needs telling what they did themselves
    given = conversations.create_conversation(rt, admin, "Vera", ada.user_id)["id"]
    assert _events(rt, ada) == [
        {
            "type": "conversation.assigned",
            "data": {"conversation_id": given, "visitor": {"name": "Vera"}},
        }
    ]
    conversations.transfer(rt, ada, own, bob.user_id)
    conversations.close(rt, bob, own)
    conversations.close(rt, bob, own)  # again: nothing new to tell
    assert [e["type"] for e in _events(rt, ada)][1:] == [
        "conversation.transferred",
        "conversation.closed",
    ]
    assert [e["type"] for e in _events(rt, bob)] == [
        "conversation.assigned",
        "conversation.closed",
    ]


def test_chat_messages_say_who_spoke_and_whether_a_card_was_hidden(
    rt: Runtime, new_site: NewSite
) -> None:
    admin = new_site(rt)
    ada, bob = _user(rt, admin), _user(rt, admin)
    assert bob.user_id is not None
    cid = conversations.create_conversation(rt, ada, "V", None)["id"]
    conversations.add_participant(rt, ada, cid, bob.user_id)
    conversations.post_message(rt, ada, cid, "card 4242424242424242")
    bot = Actor(site_id=admin.site_id, role="site_key")
    conversations.post_message(rt, bot, cid, "beep")
    said = [e["data"] for e in _events(rt, bob) if e["type"] == "chat.message"]
    assert [(d["from"], d["card_number_masked"], d["text"]) for d in said] == [
        ("agent", True, "card •••• 4242"),
        ("bot", False, "beep"),
    ]
