"""The demo chat in Chromium: a visitor talks to an agent in real time, a card number typed
into the chat is masked, and the secure form arrives as a card whose form is filled with
the keyboard; the transcript says what happened and never a value."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect
from support.flow import Desk
from support.keyboard import fill_payment_card_with_keyboard
from support.shown import shows
from support.stack import Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
WIDE, NARROW = (1280, 900), (375, 740)


def agent_event(desk: Desk, want: str, after: str = "0", timeout: float = 30) -> dict[str, Any]:
    deadline = time.time() + timeout
    with desk.client() as c:
        while time.time() < deadline:
            r = c.get(
                "/api/v1/agent/events", params={"after": after, "wait": 5}, headers=desk.agent
            )
            assert r.status_code == 200, r.text
            for event in r.json()["events"]:
                after = event["id"]
                if event["type"] == want:
                    return dict(event)
    raise AssertionError(f"no {want} for the agent within {timeout}s")


def test_the_whole_story_in_the_demo_chat(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Callable[[Page], bool]
) -> None:
    desk = Desk.make(stack)
    page = new_page(WIDE)
    page.goto(f"{stack.base_url}/chat?site={stack.site_id}&agent={desk.agent_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Chat with us")
    accessible(page, "chat-1-start-1280")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    accessible(page, "chat-1-start-375")
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})
    page.get_by_label("Your name (optional)").fill("Vera")
    page.get_by_role("button", name="Start chat").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Chat with")
    accessible(page, "chat-2-empty-1280")

    # Visitor -> agent, in real time.
    message = page.get_by_label("Your message")
    message.fill("Hello, I would like to pay my bill")
    message.press("Enter")
    messages = page.locator("#messages")
    expect(messages).to_contain_text("Hello, I would like to pay my bill")
    said = agent_event(desk, "chat.message")
    assert said["data"]["text"] == "Hello, I would like to pay my bill"
    conversation_id = said["data"]["conversation_id"]

    # Agent -> visitor, over SSE (the page is not reloaded).
    with desk.client() as c:
        r = c.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "Of course! One moment."},
            headers=desk.agent,
        )
        assert r.status_code == 201, r.text
    expect(messages.locator(".msg-theirs")).to_contain_text("Of course! One moment.")

    # A card number typed into the chat is hidden, and the agent is prompted.
    message.fill("it is 4242 4242 4242 4242")
    message.press("Enter")
    expect(messages).to_contain_text("it is •••• 4242")
    expect(page.locator("#chat-status")).to_contain_text("We hid the card number")
    prompt = agent_event(desk, "chat.card_number_detected", after=said["id"])
    assert prompt["data"]["conversation_id"] == conversation_id
    assert "4242 4242" not in page.content()

    # The agent sends the secure form into the chat: a card with a button.
    with desk.client() as c:
        r = c.post(
            f"/api/v1/chat/conversations/{conversation_id}/secure-forms",
            json={"form_id": desk.form_id},
            headers=desk.agent,
        )
        assert r.status_code == 201, r.text
        request_id = r.json()["request_id"]
    expect(messages).to_contain_text("Secure form 'Payment card' sent")
    card = page.locator(".form-card")
    expect(card.get_by_role("heading")).to_have_text("Secure form: Payment card")
    accessible(page, "chat-3-form-card-1280")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    assert fits(page)
    accessible(page, "chat-3-form-card-375")
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})

    # The visitor opens it from the card, in a new tab, and fills it with the keyboard.
    with page.context.expect_page() as opened:
        card.get_by_role("link", name="Open secure form").click()
    form = opened.value
    fill_payment_card_with_keyboard(form)
    form.close()

    # Back in the chat, without a reload: the transcript says it was submitted, and the
    # card no longer offers its spent link.
    expect(messages).to_contain_text("Secure form 'Payment card' submitted")
    expect(card).to_contain_text("You sent this form. Thank you!")
    expect(card.get_by_role("link")).to_have_count(0)
    accessible(page, "chat-4-submitted-1280")
    body = page.content()
    assert "4242424242424242" not in body and "4242 4242 4242 4242" not in body
    assert not shows(page.locator("#messages").inner_text(), "321")

    # The agent is told, reveals once; the same key a second time is refused.
    event = desk.wait_submitted(request_id)
    first = desk.reveal(event["submission_id"], event["retrieve_otk"])
    assert first.status_code == 200, first.text
    assert first.json()["values"]["card_number"] == "4242424242424242"
    assert first.json()["off_the_record"] == {"cvv": "321"}
    again = desk.reveal(event["submission_id"], event["retrieve_otk"])
    assert again.status_code == 410

    with desk.client() as c:
        texts = [
            m["text"]
            for m in c.get(
                f"/api/v1/conversations/{conversation_id}/transcript", headers=desk.agent
            ).json()["messages"]
        ]
    assert texts == [
        "Hello, I would like to pay my bill",
        "Of course! One moment.",
        "it is •••• 4242",
        "Secure form 'Payment card' sent",
        "Secure form 'Payment card' submitted",
    ]

    # The chat closes: the window says so and takes no more messages.
    with desk.client() as c:
        closed = c.post(f"/api/v1/conversations/{conversation_id}/close", headers=desk.agent)
        assert closed.status_code == 200
    expect(messages).to_contain_text("The chat has ended.")
    expect(message).to_be_disabled()
    accessible(page, "chat-5-ended-1280")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    assert fits(page)
    accessible(page, "chat-5-ended-375")
    page.reload()
    expect(card).to_contain_text("You sent this form. Thank you!")
    expect(page.get_by_label("Your message")).to_be_disabled()


def test_the_chat_window_works_without_javascript(stack: Stack, new_page: NewPage) -> None:
    desk = Desk.make(stack)
    page = new_page(NARROW, js=False)
    page.goto(f"{stack.base_url}/chat?site={stack.site_id}&agent={desk.agent_id}")
    page.get_by_role("button", name="Start chat").click()
    page.get_by_label("Your message").fill("no script here")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages")).to_contain_text("no script here")
    said = agent_event(desk, "chat.message")
    assert said["data"]["author"] == "Visitor"
    page.get_by_role("button", name="Leave chat").click()
    expect(page.get_by_role("button", name="Start chat")).to_be_visible()
