"""One-time keys sent on Redis streams live no longer than the keys themselves (issue 11):
the visitor's link (open key) and the agent's retrieve key used to sit in streams that
live a day. The pages still get both while they are good."""

from __future__ import annotations

from datetime import datetime

import redis
from integration.test_chat import bearer, send_in_chat, visitor_events, visitor_token
from support.flow import Desk, card_values
from support.scan import redis_items
from support.stack import Stack


def holders(stack: Stack, needle: str) -> list[tuple[redis.Redis, str]]:
    """Every key of the stack's Redis databases whose name or value holds `needle`."""
    found = []
    for client in stack.redis_clients():
        for where, data in redis_items(client):
            if needle.encode() in data:
                # "redis[db] KEY (kind)": the key names here are plain ASCII.
                found.append((client, where.split(" ", 1)[1].rsplit(" (", 1)[0]))
    return found


def assert_lives_no_longer_than(stack: Stack, otk: str, until: str) -> None:
    ends = datetime.fromisoformat(until).timestamp()
    where = holders(stack, otk)
    assert where, "the scan must see where the key is held"
    for client, key in where:
        left_ms = client.pttl(key)
        # rfc3339 is to the second; the key's own end is within that second.
        now = client.time()
        assert left_ms > 0 and now[0] + now[1] / 1e6 + left_ms / 1000 <= ends + 1, (key, left_ms)


def test_the_link_and_the_retrieve_key_live_no_longer_than_their_keys(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    token = visitor_token(desk, cid)
    request_id = send_in_chat(desk, cid)["request_id"]
    events = visitor_events(desk, token, "chat.secure_form")
    card = next(e for e in events if e["type"] == "chat.secure_form")["data"]
    open_otk = card["url"].rsplit("/f/", 1)[1]  # the visitor still gets the link
    assert "_held" not in card
    assert_lives_no_longer_than(stack, open_otk, card["expires_at"])
    with desk.client() as c:
        state = c.get("/api/v1/chat", headers=bearer(token)).json()  # a reload gets it too
        reloaded = next(e for e in state["events"] if e["type"] == "chat.secure_form")
        assert reloaded["data"]["url"] == card["url"]
        opened = c.post("/api/v1/visitor/open", json={"otk": open_otk})
        assert opened.status_code == 200, opened.text

    assert desk.submit(opened.json()["submit_otk"], card_values()).status_code == 202
    event = desk.wait_submitted(request_id)
    assert "_held" not in event
    assert_lives_no_longer_than(stack, event["retrieve_otk"], event["retrieve_otk_expires_at"])
    # The workspace reveals with the key from the event, as before.
    assert desk.reveal(event["submission_id"], event["retrieve_otk"]).status_code == 200
