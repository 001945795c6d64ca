"""The visitor's chat: chat tokens, masking, real-time delivery both ways, form cards."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from support.flow import Desk, card_values
from support.stack import Stack

CARD = "4242 4242 4242 4242"


def visitor_token(desk: Desk, conversation_id: str, headers: dict[str, str] | None = None) -> str:
    with desk.client() as c:
        r = c.post(
            f"/api/v1/chat/conversations/{conversation_id}/visitor-token",
            headers=headers or desk.agent,
        )
    assert r.status_code == 201, r.text
    token = str(r.json()["token"])
    assert token.startswith("sfv_")
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def visitor_events(
    desk: Desk, token: str, want: str, *, after: str = "0", timeout: float = 30
) -> list[dict[str, Any]]:
    """Long-poll the visitor's stream until an event of type `want` is there."""
    seen: list[dict[str, Any]] = []
    deadline = time.time() + timeout
    with desk.client() as c:
        while time.time() < deadline:
            r = c.get(
                "/api/v1/chat/events", params={"after": after, "wait": 5}, headers=bearer(token)
            )
            assert r.status_code == 200, r.text
            for event in r.json()["events"]:
                after = event["id"]
                seen.append(event)
            if any(e["type"] == want for e in seen):
                return seen
    raise AssertionError(f"no {want} on the visitor's stream within {timeout}s: {seen}")


def agent_events(desk: Desk, want: str, timeout: float = 30) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = "0"
    deadline = time.time() + timeout
    with desk.client() as c:
        while time.time() < deadline:
            r = c.get(
                "/api/v1/agent/events", params={"after": after, "wait": 5}, headers=desk.agent
            )
            assert r.status_code == 200, r.text
            for event in r.json()["events"]:
                after = event["id"]
                seen.append(event)
            if any(e["type"] == want for e in seen):
                return seen
    raise AssertionError(f"no {want} for the agent within {timeout}s: {seen}")


def send_in_chat(desk: Desk, conversation_id: str) -> dict[str, Any]:
    """The agent sends the desk's form into the chat; the answer's body."""
    with desk.client() as c:
        r = c.post(
            f"/api/v1/chat/conversations/{conversation_id}/secure-forms",
            json={"form_id": desk.form_id},
            headers=desk.agent,
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


def transcript(desk: Desk, conversation_id: str) -> list[dict[str, str]]:
    with desk.client() as c:
        r = c.get(f"/api/v1/conversations/{conversation_id}/transcript", headers=desk.agent)
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


def test_only_the_assigned_agent_or_the_site_invites_the_visitor(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    assert visitor_token(desk, cid)
    assert visitor_token(desk, cid, desk.admin)
    _other_id, other = stack.new_agent(desk.admin)
    with desk.client() as c:
        refused = c.post(f"/api/v1/chat/conversations/{cid}/visitor-token", headers=other)
        assert refused.status_code == 403
        assert c.post(f"/api/v1/conversations/{cid}/close", headers=desk.agent).status_code == 200
        closed = c.post(f"/api/v1/chat/conversations/{cid}/visitor-token", headers=desk.agent)
        assert closed.status_code == 409


def test_a_card_number_in_the_chat_is_masked_and_the_agent_prompted(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    token = visitor_token(desk, cid)
    with desk.client() as c:
        r = c.post(
            "/api/v1/chat/messages", json={"text": f"my card is {CARD} ok?"}, headers=bearer(token)
        )
    assert r.status_code == 201, r.text
    said = r.json()
    assert said["card_number_masked"] is True
    assert said["text"] == "my card is •••• 4242 ok?"

    events = agent_events(desk, "chat.card_number_detected")
    message = next(e for e in events if e["type"] == "chat.message")
    assert message["data"]["conversation_id"] == cid
    assert message["data"]["text"] == "my card is •••• 4242 ok?"
    prompt = next(e for e in events if e["type"] == "chat.card_number_detected")
    assert prompt["data"]["conversation_id"] == cid
    assert not any("4242 4242" in json.dumps(e) or "42424242" in json.dumps(e) for e in events)
    texts = [m["text"] for m in transcript(desk, cid)]
    assert "my card is •••• 4242 ok?" in texts
    assert not any("4242 4242" in t for t in texts)
    shown = visitor_events(desk, token, "chat.message")
    assert [e["data"]["text"] for e in shown] == ["my card is •••• 4242 ok?"]
    assert shown[0]["data"]["from"] == "visitor"


def test_the_agent_reply_reaches_the_visitor_over_sse(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    token = visitor_token(desk, cid)
    with (
        desk.client() as c,
        c.stream(
            "GET",
            "/api/v1/chat/events",
            headers={**bearer(token), "Accept": "text/event-stream"},
            timeout=httpx.Timeout(30),
        ) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        r = c.post(
            f"/api/v1/conversations/{cid}/messages", json={"text": "Hello!"}, headers=desk.agent
        )
        assert r.status_code == 201, r.text
        got: dict[str, str] = {}
        for line in stream.iter_lines():
            if line.startswith("event: "):
                got["event"] = line[7:]
            elif line.startswith("data: "):
                got["data"] = line[6:]
                break
    assert got["event"] == "chat.message"
    data = json.loads(got["data"])
    assert data["text"] == "Hello!" and data["from"] == "agent"


def test_a_secure_form_arrives_as_a_card_and_the_transcript_holds_no_value(
    stack: Stack,
) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    token = visitor_token(desk, cid)
    sent = send_in_chat(desk, cid)
    request_id = sent["request_id"]
    assert "otk" not in sent and "visitor_url" not in sent
    events = visitor_events(desk, token, "chat.secure_form")
    card = next(e for e in events if e["type"] == "chat.secure_form")["data"]
    assert card["title"] == "Payment card" and card["request_id"] == request_id
    otk = card["url"].rsplit("/f/", 1)[1]
    assert card["url"] == f"{stack.base_url}/f/{otk}"
    with desk.client() as c:
        assert "Payment card" in c.get(card["url"]).text
        opened = c.post("/api/v1/visitor/open", json={"otk": otk})
        assert opened.status_code == 200, opened.text
    values = card_values(card="4000056655665556", cvv="246", name="Ada Lovelace")
    assert desk.submit(opened.json()["submit_otk"], values).status_code == 202
    desk.wait_submitted(request_id)
    later = visitor_events(desk, token, "chat.message", after=events[-1]["id"])
    assert "Secure form 'Payment card' submitted" in [e["data"]["text"] for e in later]
    texts = [m["text"] for m in transcript(desk, cid)]
    assert "Secure form 'Payment card' sent" in texts
    assert "Secure form 'Payment card' submitted" in texts
    everything = json.dumps(texts)
    assert otk not in everything
    for value in values.values():
        assert value not in everything


def test_a_chat_token_reaches_its_own_conversation_only(stack: Stack) -> None:
    desk = Desk.make(stack)
    mine, theirs = desk.conversation(), desk.conversation()
    token = visitor_token(desk, mine)
    with desk.client() as c:
        c.post(f"/api/v1/conversations/{theirs}/messages", json={"text": "x"}, headers=desk.agent)
        c.post(f"/api/v1/conversations/{mine}/messages", json={"text": "y"}, headers=desk.agent)
        state = c.get("/api/v1/chat", headers=bearer(token)).json()
        assert state["conversation_id"] == mine
        assert [e["data"]["text"] for e in state["events"]] == ["y"]
        assert c.get("/api/v1/chat/events", headers=bearer("sfv_" + "x" * 43)).status_code == 401
        assert c.get("/api/v1/chat/events").status_code == 401
        # A session token is not a chat token.
        assert c.get("/api/v1/chat", headers=desk.agent).status_code == 401


def test_text_that_cannot_be_stored_is_refused_not_crashed(stack: Stack) -> None:
    desk = Desk.make(stack)
    token = visitor_token(desk, desk.conversation())
    with desk.client() as c:
        for text in ["   ", "nul \x00 here", "x" * 5001]:
            r = c.post("/api/v1/chat/messages", json={"text": text}, headers=bearer(token))
            assert r.status_code == 422, (text[:10], r.text)
        lone = b'{"text": "half a pair \\ud800"}'
        r = c.post(
            "/api/v1/chat/messages",
            content=lone,
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert "ud800" not in r.text


def test_a_closed_chat_takes_no_more_messages_and_says_so(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    token = visitor_token(desk, cid)
    with desk.client() as c:
        assert c.post(f"/api/v1/conversations/{cid}/close", headers=desk.agent).status_code == 200
        r = c.post("/api/v1/chat/messages", json={"text": "hello?"}, headers=bearer(token))
        assert r.status_code == 409
        # Closing twice ends it once: one line in the transcript, naming who ended it.
        assert c.post(f"/api/v1/conversations/{cid}/close", headers=desk.agent).status_code == 200
        lines = c.get(f"/api/v1/conversations/{cid}/transcript", headers=desk.agent).json()
        name = c.get("/api/v1/auth/me", headers=desk.agent).json()["display_name"]
    ended = [m for m in lines["messages"] if m["text"].startswith("Chat ended")]
    assert [(m["author"], m["text"]) for m in ended] == [("system", f"Chat ended by {name}")]
    assert visitor_events(desk, token, "chat.closed")


def test_the_demo_chat_page_starts_a_chat_and_guards_its_posts(stack: Stack) -> None:
    desk = Desk.make(stack)
    with desk.client() as c:
        start = c.get("/chat", params={"site": stack.site_id, "agent": desk.agent_id})
        assert start.status_code == 200
        assert "Start chat" in start.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', start.text)
        assert csrf
        assert c.post("/chat/start", data={"site": stack.site_id}).status_code == 403
        r = c.post(
            "/chat/start",
            data={
                "csrf": csrf.group(1),
                "site": stack.site_id,
                "agent": desk.agent_id,
                "name": "Vera",
            },
        )
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert "sf_chat=sfv_" in cookie and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        window = c.get("/chat")
        assert window.status_code == 200 and "Your message" in window.text
        chat_csrf = re.search(r'name="csrf" value="([^"]+)"', window.text)
        assert chat_csrf

        said = c.post("/chat/messages", data={"csrf": chat_csrf.group(1), "text": f"pay {CARD}"})
        assert said.status_code == 303 and said.headers["location"].startswith("/chat?notice=card")
        assert "We hid the card number" in c.get(said.headers["location"]).text
        # The page's script writes with the cookie and must show the CSRF token too.
        assert c.post("/api/v1/chat/messages", json={"text": "hi"}).status_code == 403
        ok = c.post(
            "/api/v1/chat/messages",
            json={"text": "hi"},
            headers={"X-CSRF-Token": chat_csrf.group(1)},
        )
        assert ok.status_code == 201
        left = c.post("/chat/leave", data={"csrf": chat_csrf.group(1)})
        assert left.status_code == 303
        assert "Start chat" in c.get("/chat").text

    events = agent_events(desk, "chat.card_number_detected")
    texts = [e["data"]["text"] for e in events if e["type"] == "chat.message"]
    assert texts[:2] == ["pay •••• 4242", "hi"]
    conversation_id = events[0]["data"]["conversation_id"]
    authors = {m["author"] for m in transcript(desk, conversation_id)}
    assert authors == {"Vera"}


def test_a_visitor_named_system_is_shown_as_the_visitor(stack: Stack) -> None:
    desk = Desk.make(stack)
    with desk.client() as c:
        r = c.post(
            "/api/v1/conversations", headers=desk.agent, json={"visitor": {"name": "system"}}
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        token = visitor_token(desk, cid)
        fake = "Secure form 'Payment card' submitted"
        said = c.post("/api/v1/chat/messages", json={"text": fake}, headers=bearer(token))
        assert said.status_code == 201, said.text
    shown = visitor_events(desk, token, "chat.message")
    assert [(e["data"]["author"], e["data"]["from"]) for e in shown] == [("system", "visitor")]
    told = [e for e in agent_events(desk, "chat.message") if e["type"] == "chat.message"]
    assert [(e["data"]["author"], e["data"]["from"]) for e in told] == [("system", "visitor")]
    lines = transcript(desk, cid)
    assert [(m["author"], m["from"], m["text"]) for m in lines] == [("system", "visitor", fake)]
