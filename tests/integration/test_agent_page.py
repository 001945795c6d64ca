"""The agent workspace over plain HTTP (no JavaScript): who gets the page, its headers, what
it renders from the server, its form posts, and the conversation list and detail endpoints
it reads (who sees which conversations, another site's ids, bad queries)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from support.flow import Desk, card_values
from support.page_forms import hidden, post_sign_in
from support.sites import OwnSite
from support.stack import Stack

API = "/api/v1"


@contextmanager
def agent_browser(stack: Stack) -> Iterator[tuple[httpx.Client, str, dict[str, str]]]:
    """A signed-in agent's cookie client, their id and bearer headers for API set-up."""
    admin = stack.admin_headers()
    agent_id, username, password = stack.new_user(admin, "agent")
    with stack.client() as c:
        assert post_sign_in(c, stack.site_id, username, password).status_code == 303
        yield c, agent_id, stack.login(username, password)


def agent_events(stack: Stack, headers: dict[str, str]) -> list[dict[str, Any]]:
    with stack.client() as c:
        r = c.get(f"{API}/agent/events", params={"after": "0"}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def listed(stack: Stack, headers: dict[str, str], query: str = "") -> list[str]:
    with stack.client() as c:
        r = c.get(f"{API}/conversations{query}", headers=headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["conversations"]]


# -- the page --------------------------------------------------------------------------


def test_without_a_session_the_page_sends_you_to_sign_in(stack: Stack) -> None:
    with stack.client() as c:
        r = c.get("/agent?c=whatever")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=/agent"
        for path in ("/agent/messages", "/agent/secure-forms", "/agent/close"):
            posted = c.post(path, data={"text": "hello", "conversation": "x"})
            assert posted.status_code == 303, path
            assert posted.headers["location"].startswith("/login")


def test_an_admin_is_sent_to_the_console(stack: Stack) -> None:
    with stack.client() as c:
        assert post_sign_in(c, stack.site_id, *stack.admin).status_code == 303
        r = c.get("/agent")
        assert r.status_code == 303
        assert r.headers["location"] == "/admin"


def test_the_page_headers_are_strict(stack: Stack) -> None:
    with agent_browser(stack) as (c, _, _):
        r = c.get("/agent")
    assert r.status_code == 200, r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "<script>" not in r.text and "style=" not in r.text
    assert re.search(r'<script type="module" src="/static/agent\.js\?v=\w+">', r.text)
    assert "No active chats." in r.text
    assert 'name="csrf-token"' in r.text


def test_the_server_renders_the_list_the_chat_and_the_forms(stack: Stack) -> None:
    desk = Desk.make(stack)
    with agent_browser(stack) as (c, agent_id, agent):
        desk.agent, desk.agent_id = agent, agent_id
        cid = desk.conversation()
        with stack.client() as api:
            said = api.post(
                f"{API}/conversations/{cid}/messages",
                json={"text": "Hello <b>there</b>"},
                headers=agent,
            )
            assert said.status_code == 201
        sent = desk.send(cid)
        r = c.get(f"/agent?c={cid}")
    assert r.status_code == 200, r.text
    page = r.text
    assert f'href="/agent?c={cid}" aria-current="page"' in page
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page  # escaped, never markup
    assert "Secure form &#39;Payment card&#39; sent" in page
    assert f'<option value="{desk.form_id}" data-card="true">Payment card</option>' in page
    assert f'data-request="{sent.request_id}" data-status="sent"' in page
    assert "Sent: waiting for the visitor" in page
    assert sent.otk not in page  # the visitor's link stays with the visitor


def test_plain_posts_send_messages_and_forms_and_end_the_chat(stack: Stack) -> None:
    desk = Desk.make(stack)
    with agent_browser(stack) as (c, agent_id, agent):
        desk.agent, desk.agent_id = agent, agent_id
        cid = desk.conversation()
        page = c.get(f"/agent?c={cid}").text
        token = hidden(page, "csrf")

        r = c.post("/agent/messages", data={"csrf": token, "conversation": cid, "text": "Hi!"})
        assert r.status_code == 303
        assert r.headers["location"] == f"/agent?c={cid}#compose"
        r = c.post(
            "/agent/messages",
            data={"csrf": token, "conversation": cid, "text": "4242 4242 4242 4242"},
        )
        assert r.headers["location"] == f"/agent?c={cid}&notice=card#compose"
        shown = c.get(r.headers["location"]).text
        assert "The card number you typed was hidden" in shown
        assert "4242 4242 4242 4242" not in shown and "•••• 4242" in shown

        # A refused or empty post says what to fix.
        forged = c.post("/agent/messages", data={"csrf": "x", "conversation": cid, "text": "no"})
        assert forged.status_code == 403
        empty = c.post("/agent/messages", data={"csrf": token, "conversation": cid, "text": " "})
        assert empty.headers["location"] == f"/agent?c={cid}&notice=empty#compose-text"
        assert (
            'href="#compose-text" data-focus-field>Type a message first.'
            in c.get(empty.headers["location"]).text
        )
        unchosen = c.post("/agent/secure-forms", data={"csrf": token, "conversation": cid})
        unchosen_page = c.get(unchosen.headers["location"])
        assert "Choose a form to send." in unchosen_page.text
        assert 'aria-invalid="true"' in unchosen_page.text

        r = c.post(
            "/agent/secure-forms",
            data={"csrf": token, "conversation": cid, "form_id": desk.form_id},
        )
        assert r.headers["location"] == f"/agent?c={cid}&notice=form-sent#secure-forms"
        after = c.get(r.headers["location"]).text
        assert "The secure form was sent." in after
        assert after.count('class="request"') == 1

        r = c.post("/agent/close", data={"csrf": token, "conversation": cid})
        assert r.headers["location"] == f"/agent?c={cid}&notice=ended"
        ended = c.get(r.headers["location"]).text
        assert "This chat has ended." in ended
        assert 'id="compose-text" name="text" autocomplete="off" maxlength="5000" disabled' in ended
        late = c.post("/agent/messages", data={"csrf": token, "conversation": cid, "text": "x"})
        assert late.headers["location"] == f"/agent?c={cid}&notice=closed"
    with stack.client() as api:
        texts = [
            m["text"]
            for m in api.get(f"{API}/conversations/{cid}/transcript", headers=agent).json()[
                "messages"
            ]
        ]
        name = api.get(f"{API}/auth/me", headers=agent).json()["display_name"]
    assert texts == [
        "Hi!",
        "•••• 4242",
        "Secure form 'Payment card' sent",
        f"Chat ended by {name}",
    ]


def test_another_agents_chat_is_not_shown(stack: Stack) -> None:
    desk = Desk.make(stack)
    theirs = desk.conversation()
    with agent_browser(stack) as (c, _, _):
        for query in (f"?c={theirs}", f"?c={uuid.uuid4()}", "?c=%00junk", "?c=" + "x" * 300):
            r = c.get(f"/agent{query}")
            assert r.status_code == 404, query
            assert "That chat is not one of yours" in r.text
            assert "Chat with" not in r.text
        token = hidden(c.get("/agent").text, "csrf")
        r = c.post("/agent/messages", data={"csrf": token, "conversation": theirs, "text": "x"})
        assert r.headers["location"] == "/agent?notice=gone"
        r = c.post("/agent/close", data={"csrf": token, "conversation": theirs})
        assert r.headers["location"] == "/agent?notice=gone"
    with desk.client() as api:
        r = api.get(f"{API}/conversations/{theirs}", headers=desk.agent)
        assert r.json()["status"] == "active"


# -- GET /api/v1/conversations ----------------------------------------------------------


def test_an_agent_lists_only_their_own_conversations(stack: Stack) -> None:
    admin = stack.admin_headers()
    me_id, me = stack.new_agent(admin)
    other_id, other = stack.new_agent(admin)
    with stack.client() as c:

        def made(headers: dict[str, str], **body: Any) -> str:
            r = c.post(
                f"{API}/conversations", json={"visitor": {"name": "V"}, **body}, headers=headers
            )
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        mine = made(me)
        given = made(admin, agent_id=me_id)
        theirs = made(other)
        watching = made(other)
        r = c.post(
            f"{API}/conversations/{watching}/participants", json={"agent_id": me_id}, headers=other
        )
        assert r.status_code == 200
        ended = made(me)
        assert c.post(f"{API}/conversations/{ended}/close", headers=me).status_code == 200

        r = c.get(f"{API}/conversations", params={"status": "active"}, headers=me)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        items = {item["id"]: item for item in r.json()["conversations"]}
    assert set(items) == {mine, given, watching}
    assert theirs not in items
    assert items[mine]["assigned"] is True and items[watching]["assigned"] is False
    assert items[mine]["visitor"] == {"name": "V"} and items[mine]["last_message"] is None
    assert listed(stack, me, "?status=closed") == [ended]
    assert set(listed(stack, me, "?status=all")) == {mine, given, watching, ended}
    assert listed(stack, me) == listed(stack, me, "?status=active")  # newest first, stable
    assert listed(stack, me, "?limit=1") == listed(stack, me)[:1]
    assert set(listed(stack, me, f"?agent_id={me_id}")) == {mine, given, watching}
    # An admin sees the site's, or one agent's; an agent may not ask for another's.
    assert {mine, given, theirs, watching} <= set(listed(stack, admin))
    assert set(listed(stack, admin, f"?agent_id={other_id}")) == {theirs, watching}
    with stack.client() as c:
        r = c.get(f"{API}/conversations", params={"agent_id": other_id}, headers=me)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_the_last_message_is_listed_masked(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    with desk.client() as c:
        for text in ("first", "card 4242424242424242 here"):
            r = c.post(
                f"{API}/conversations/{cid}/messages", json={"text": text}, headers=desk.agent
            )
            assert r.status_code == 201
        r = c.get(f"{API}/conversations", headers=desk.agent)
    item = next(i for i in r.json()["conversations"] if i["id"] == cid)
    assert item["last_message"]["text"] == "card •••• 4242 here"
    assert "4242424242424242" not in r.text


def test_another_sites_tokens_and_ids_get_nothing(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    elsewhere = OwnSite.make(stack)
    _, intruder = elsewhere.signed_in("agent")
    for headers in (elsewhere.admin, intruder, elsewhere.site_key()):
        r = elsewhere.call("GET", "/conversations?status=all", headers)
        assert r.status_code == 200, r.text
        assert cid not in r.text and r.json()["conversations"] == []
        assert elsewhere.call("GET", f"/conversations/{cid}", headers).status_code == 404
    # An agent of this site named by another site's admin: no such agent there.
    r = elsewhere.call("GET", f"/conversations?agent_id={desk.agent_id}", elsewhere.admin)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = elsewhere.call("GET", "/conversations?agent_id=..%2F..", elsewhere.admin)
    assert r.status_code == 404


def test_bad_queries_are_refused_precisely(stack: Stack) -> None:
    desk = Desk.make(stack)
    canary = "zq" + uuid.uuid4().hex
    with desk.client() as c:
        for query, field in (
            ("status=open", "status"),
            (f"status={canary}", "status"),
            ("status=", "status"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-1", "limit"),
            ("limit=1.5", "limit"),
            ("limit=%EF%BC%91", "limit"),  # a full-width digit one
            (f"limit={canary}", "limit"),
            ("status=active&status=closed", "status"),
            (f"{canary}=1", "query"),
        ):
            r = c.get(f"{API}/conversations?{query}", headers=desk.agent)
            assert r.status_code == 422, (query, r.text)
            body = r.json()
            assert body["error"] == "invalid_query" and set(body["fields"]) == {field}, query
            assert canary not in r.text
        assert c.get(f"{API}/conversations").status_code == 401


def test_the_detail_names_the_forms_sent_and_never_a_value(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    assert desk.submit(desk.open(sent), card_values(cvv="987")).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    _, other = desk.stack.new_agent(desk.admin)
    with desk.client() as c:
        r = c.get(f"{API}/conversations/{sent.conversation_id}", headers=desk.agent)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        detail = r.json()
        assert (
            c.get(f"{API}/conversations/{sent.conversation_id}", headers=other).status_code == 403
        )
        assert c.get(f"{API}/conversations/{uuid.uuid4()}", headers=desk.agent).status_code == 404
    assert detail["assigned"] is True and detail["participants"] == [desk.agent_id]
    [request] = detail["secure_forms"]
    assert request["request_id"] == sent.request_id
    assert request["status"] == "submitted"
    assert request["submission_id"] == event["submission_id"]
    assert request["title"] == "Payment card"
    assert {"name": "cvv", "label": "CVV", "off_the_record": True} in request["fields"]
    # A 3-digit CVV may well turn up inside an id: look for it as a value.
    for value in ("4242424242424242", '"987"', "Ada Lovelace", event["retrieve_otk"], sent.otk):
        assert value not in r.text


def test_agents_hear_of_chats_given_to_them_and_of_their_end(stack: Stack) -> None:
    admin = stack.admin_headers()
    agent_id, agent = stack.new_agent(admin)
    other_id, other = stack.new_agent(admin)
    with stack.client() as c:
        r = c.post(
            f"{API}/conversations",
            json={"visitor": {"name": "Vera"}, "agent_id": agent_id},
            headers=admin,
        )
        cid = r.json()["id"]
        token = c.post(f"{API}/chat/conversations/{cid}/visitor-token", headers=agent).json()
        said = c.post(
            f"{API}/chat/messages",
            json={"text": "it is 4242 4242 4242 4242"},
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        assert said.status_code == 201
        moved = c.post(
            f"{API}/conversations/{cid}/transfer", json={"agent_id": other_id}, headers=admin
        )
        assert moved.status_code == 200
        assert c.post(f"{API}/conversations/{cid}/close", headers=other).status_code == 200
        assert c.post(f"{API}/conversations/{cid}/close", headers=other).status_code == 200
    deadline = time.time() + 10
    while time.time() < deadline and len(agent_events(stack, agent)) < 5:
        time.sleep(0.1)
    mine = [(e["type"], e["data"]) for e in agent_events(stack, agent)]
    assert [t for t, _ in mine] == [
        "conversation.assigned",
        "chat.message",
        "chat.card_number_detected",
        "conversation.transferred",
        "conversation.closed",
    ]
    assert mine[0][1] == {"conversation_id": cid, "visitor": {"name": "Vera"}}
    message = mine[1][1]
    assert message["from"] == "visitor" and message["card_number_masked"] is True
    assert message["text"] == "it is •••• 4242"
    assert mine[3][1] == {"conversation_id": cid, "agent_id": other_id}
    theirs = [e["type"] for e in agent_events(stack, other)]
    assert theirs == ["conversation.assigned", "conversation.closed"]


def test_the_openapi_document_lists_the_additions(stack: Stack) -> None:
    with stack.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    listing = paths["/api/v1/conversations"]["get"]
    assert "422" in listing["responses"] and "404" in listing["responses"]
    assert "status=active" in listing["summary"]
    assert "get" in paths["/api/v1/conversations/{conversation_id}"]
    assert not any(p.startswith("/agent") for p in paths)
