"""The agent's panel inside a chat console, in Chromium: a console page on another site
(http://localhost:<port>, where the api is http://127.0.0.1:<port>) frames /embed/agent
and posts it Chatwoot's `appContext`. The agent signs in inside the frame with the
keyboard, sends the "Payment card" form, the visitor submits it in another page, and the
agent reveals it in the frame. Then the refusals: a console the site does not allow cannot
frame the panel (CSP), an appContext from a foreign origin is ignored, and another
agent's conversation is refused in words. axe checks the panel at 375 px.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Frame, FrameLocator, Page, expect
from support.chatwoot_api import conversation_event, signed
from support.console_host import ConsoleHost, running_console
from support.keyboard import fill_payment_card_with_keyboard
from support.stack import PAYMENT_FORM, Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
NARROW = (375, 900)
CARD = "4242424242424242"
SECRET = "chatwoot-webhook-secret-browser"


@dataclass
class Setup:
    console: ConsoleHost
    panel_url: str
    agent: tuple[str, str, str]  # id, username, password
    form_id: str
    number: int  # the Chatwoot conversation assigned to the agent
    others: int  # one assigned to another agent


@pytest.fixture(scope="module")
def console() -> Iterator[ConsoleHost]:
    with running_console() as host:
        yield host


@pytest.fixture(scope="module")
def setup(stack: Stack, console: ConsoleHost) -> Setup:
    admin = stack.admin_headers()
    form_id = stack.create_form(admin, {**PAYMENT_FORM, "name": f"pay_{uuid.uuid4().hex[:8]}"})
    agent = stack.new_user(admin, "agent")
    _, other, _ = stack.new_user(admin, "agent")
    number, others = (int(uuid.uuid4().int % 10**9) + n for n in (1, 2))
    # Chatwoot's conversations come from Chatwoot's own (signed) webhooks: nobody else may
    # make a chatwoot: conversation. Nothing is delivered to this Chatwoot (no webhooks
    # worker runs here); the panel still shows the link to copy.
    chatwoot = {
        "base_url": "http://127.0.0.1:9",
        "account_id": 1,
        "api_access_token": "token-not-used",
        "webhook_secret": SECRET,
        "agents": {"7": agent[1], "8": other},
    }
    with httpx.Client(base_url=stack.base_url, headers=admin) as c:
        r = c.put("/api/v1/site/policies", json={"agent_frame_ancestors": [console.origin]})
        assert r.status_code == 200, r.text
        assert r.json()["agent_frame_ancestors"] == [console.origin]
        assert c.put("/api/v1/site/integrations/chatwoot", json=chatwoot).status_code == 200
    with httpx.Client(base_url=stack.base_url) as c:
        for n, assignee, name in ((number, 7, "Vera"), (others, 8, "Otto")):
            body = conversation_event("conversation_created", n, assignee=assignee, contact=name)
            r = c.post(
                f"/api/v1/integrations/chatwoot/webhook/{stack.site_id}",
                content=body,
                headers=signed(SECRET, body),
            )
            assert r.json()["outcome"] == "created", r.text
    return Setup(
        console, f"{stack.base_url}/embed/agent/{stack.site_id}", agent, form_id, number, others
    )


def axe_in(frame: Frame) -> list[object]:
    return list(
        frame.evaluate(
            """async () => {
                const r = await axe.run(document, {
                    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},
                    resultTypes: ['violations'],
                });
                return r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join());
            }"""
        )
    )


def panel_frame(page: Page, stack: Stack) -> Frame:
    found = [f for f in page.frames if f.url.startswith(f"{stack.base_url}/embed/agent/")]
    assert found, [f.url for f in page.frames]
    return found[0]


def sign_in_with_keyboard(page: Page, panel: FrameLocator, setup: Setup) -> None:
    _, username, password = setup.agent
    expect(panel.get_by_role("heading", name="Sign in to Secure forms")).to_be_visible()
    panel.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def test_an_agent_signs_in_sends_and_reveals_inside_a_console(
    stack: Stack,
    setup: Setup,
    new_page: NewPage,
    screenshot: Callable[[Page, str], object],
) -> None:
    page = new_page(NARROW)
    page.goto(setup.console.page(setup.panel_url, setup.number))
    panel = page.frame_locator("#panel")
    frame = panel_frame(page, stack)
    assert axe_in(frame) == []
    screenshot(page, "embed-1-sign-in")
    sign_in_with_keyboard(page, panel, setup)

    # Signed in, on the console's conversation (named by its appContext, not by the URL).
    expect(panel.locator(".embed-chat")).to_contain_text("Conversation with Vera")
    frame = panel_frame(page, stack)
    assert f"external_id=chatwoot%3A{setup.number}" in frame.url
    assert axe_in(frame) == []
    screenshot(page, "embed-2-panel")

    # Send the form with the keyboard alone: the link goes to Chatwoot, and the panel
    # shows it too, for when it does not arrive there.
    panel.locator("#form-choice").focus()
    panel.locator("#form-choice").select_option(setup.form_id)
    panel.get_by_role("button", name="Send to visitor").focus()
    page.keyboard.press("Enter")
    link = panel.locator("#visitor-link")
    expect(panel.locator("#link-box")).to_contain_text("being posted into the conversation")
    url = link.input_value()
    assert re.fullmatch(rf"{re.escape(stack.base_url)}/f/[A-Za-z0-9_-]+", url), url
    request = panel.locator("#requests .request")
    expect(request.locator(".request-status")).to_have_text("Sent: waiting for the visitor")
    assert axe_in(panel_frame(page, stack)) == []
    screenshot(page, "embed-3-link")

    visitor = new_page()
    visitor.goto(url)
    fill_payment_card_with_keyboard(visitor)
    visitor.close()

    # The status moves by itself; the answers are revealed in the frame.
    expect(request.locator(".request-status")).to_have_text("Submitted: answers ready")
    expect(link).to_have_count(0)  # an answered link opens nothing more: it leaves the panel
    view = request.get_by_role("button", name=re.compile("View answers"))
    view.focus()
    page.keyboard.press("Enter")
    reveal = panel.locator("#reveal")
    expect(reveal.get_by_role("heading", name="Answers: Payment card")).to_be_visible()
    number = reveal.locator("#answer-card_number")
    expect(number).to_have_text("Visa •••• 4242")
    reveal.get_by_role("button", name="Show Card number").focus()
    page.keyboard.press("Enter")
    expect(number).to_have_text(CARD)
    expect(request.locator(".request-status")).to_have_text("Answers viewed")
    assert axe_in(panel_frame(page, stack)) == []
    screenshot(page, "embed-4-revealed")
    # The console's own page never holds an answer: the frame is another origin.
    assert CARD not in page.content()


def test_the_panel_refuses_what_it_must(
    stack: Stack,
    setup: Setup,
    new_page: NewPage,
    screenshot: Callable[[Page, str], object],
) -> None:
    # A console the site does not allow: the browser refuses to frame the panel.
    page = new_page(NARROW)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text))
    page.goto(setup.console.page(setup.panel_url, setup.number, origin=setup.console.other_origin))
    expect(page.get_by_role("heading", name="Chat console")).to_be_visible()
    page.wait_for_timeout(500)
    framed = [f for f in page.frames if f is not page.main_frame]
    assert len(framed) == 1
    assert not framed[0].url.startswith(stack.base_url), framed[0].url
    assert any("frame-ancestors" in text for text in refused), refused
    expect(page.frame_locator("#panel").get_by_role("heading")).to_have_count(0)

    # An allowed console, with a page of a foreign origin beside the panel forging an
    # appContext for another conversation: the panel stays on the console's own.
    page = new_page(NARROW)
    evil = f"{setup.console.other_origin}/evil?n={setup.others}"
    page.goto(setup.console.page(setup.panel_url, setup.number, evil=evil))
    panel = page.frame_locator("#panel")
    sign_in_with_keyboard(page, panel, setup)
    expect(panel.locator(".embed-chat")).to_contain_text("Conversation with Vera")
    page.wait_for_timeout(1500)  # the forger posts every 100 ms
    assert f"external_id=chatwoot%3A{setup.number}" in panel_frame(page, stack).url
    expect(panel.locator(".embed-chat")).to_contain_text("Conversation with Vera")

    # The console itself switches to a conversation assigned to another agent: refused
    # in words, with nothing to send or view.
    page.evaluate(f"() => window.showConversation({setup.others})")
    problem = panel.locator("#panel-problem")
    expect(problem).to_contain_text("not assigned to you")
    expect(panel.locator("#send-form")).to_have_count(0)
    expect(panel.locator("#requests")).to_have_count(0)
    assert axe_in(panel_frame(page, stack)) == []
    screenshot(page, "embed-5-not-yours")
