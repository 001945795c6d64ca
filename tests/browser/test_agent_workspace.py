"""The agent workspace in Chromium, the whole story: an agent signs in, a visitor starts the
demo chat in another browser, they talk live, a card number typed in the chat prompts the
agent to send the "Payment card" form from the Secure forms tab, the visitor fills it with
the keyboard (an error, then fixed), the status and a notification arrive without a
reload, the agent reveals once (masked until Show, copy, the off-the-record countdown),
closes (values gone), and a second look is refused in words. axe checks every state at
1280 and 375 px; the answers leave the page after a minute and when the page signs out.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, expect
from support.keyboard import fill_payment_card_with_keyboard
from support.shown import shows
from support.sites import OwnSite
from support.stack import PAYMENT_FORM, Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
WIDE, NARROW = (1280, 900), (375, 740)
CARD = "4242424242424242"


@dataclass
class Agent:
    id: str
    username: str
    password: str
    form_id: str
    site_id: str


def new_agent(stack: Stack) -> Agent:
    admin = stack.admin_headers()
    form_id = stack.create_form(admin, {**PAYMENT_FORM, "name": f"pay_{uuid.uuid4().hex[:8]}"})
    agent_id, username, password = stack.new_user(admin, "agent")
    return Agent(agent_id, username, password, form_id, stack.site_id)


def sign_in(page: Page, stack: Stack, agent: Agent) -> None:
    page.goto(f"{stack.base_url}/login")
    page.get_by_label("Site id").fill(agent.site_id)
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/agent$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Workspace")


def both_widths(page: Page, name: str, accessible: Check, fits: Callable[[Page], bool]) -> None:
    accessible(page, f"{name}-1280")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    assert fits(page), f"{name}: the page scrolls sideways at 375 px"
    accessible(page, f"{name}-375")
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})


def start_chat(stack: Stack, new_page: NewPage, agent: Agent, name: str) -> Page:
    visitor = new_page(WIDE)
    visitor.goto(f"{stack.base_url}/chat?site={agent.site_id}&agent={agent.id}")
    visitor.get_by_label("Your name (optional)").fill(name)
    visitor.get_by_role("button", name="Start chat").click()
    expect(visitor.get_by_label("Your message")).to_be_visible()
    return visitor


def say(visitor: Page, text: str) -> None:
    box = visitor.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")
    expect(visitor.locator("#messages")).to_contain_text(text.split(" 4242")[0])


def clipboard_emptied(page: Page, timeout: float = 5) -> None:
    """The copied answer left the clipboard along with the panel (the write is async)."""
    deadline = time.monotonic() + timeout
    while page.evaluate("() => navigator.clipboard.readText()") != "":
        assert time.monotonic() < deadline, "the clipboard still holds a copied answer"
        page.wait_for_timeout(50)


def holds_no_value(page: Page) -> None:
    """Nothing the visitor typed is anywhere in the page's markup."""
    markup = page.content()
    for value in (CARD, "4242 4242 4242 4242", "Vera Visitor"):
        assert value not in markup, value
    assert not shows(page.locator("#reveal").inner_html(), "321")


def the_request(page: Page) -> Locator:
    return page.locator("#requests .request")


def test_the_whole_story_in_the_workspace(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Callable[[Page], bool]
) -> None:
    agent = new_agent(stack)
    page = new_page(WIDE)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, stack, agent)
    expect(page.locator("#no-chats")).to_be_visible()
    both_widths(page, "agent-1-empty", accessible, fits)

    # A visitor starts a chat: it appears in the list without a reload, then so does
    # what they say.
    visitor = start_chat(stack, new_page, agent, "Vera")
    chat_link = page.locator("#chat-list").get_by_role("link", name=re.compile("Vera"))
    expect(chat_link).to_be_visible()
    expect(page.locator("#live")).to_contain_text("New chat with Vera")
    say(visitor, "Hello, I would like to pay my bill")
    expect(chat_link).to_contain_text("Hello, I would like to pay my bill")
    expect(chat_link.locator(".chat-unread")).to_be_visible()
    chat_link.click()
    expect(page.get_by_role("heading", name="Chat with Vera")).to_be_visible()
    messages = page.locator("#messages")
    expect(messages).to_contain_text("Hello, I would like to pay my bill")

    # The agent answers with a quick reply, edited in the reply box; the visitor sees it.
    page.get_by_role("tab", name="Quick replies").click()
    page.get_by_role("button", name="Insert").first.click()
    reply = page.get_by_label("Your message")
    expect(reply).to_be_focused()
    expect(reply).to_have_value("Hello! How can I help you today?")
    reply.press("End")
    page.keyboard.type(" One moment.")
    page.keyboard.press("Enter")
    expect(messages.locator(".msg-mine")).to_contain_text("How can I help you today? One moment.")
    expect(visitor.locator("#messages .msg-theirs")).to_contain_text("One moment.")

    # A card number typed into the chat arrives masked, and the agent is prompted.
    say(visitor, "it is 4242 4242 4242 4242")
    expect(messages).to_contain_text("it is •••• 4242")
    prompt = page.locator("#card-prompt")
    expect(prompt).to_be_visible()
    expect(page.locator("#live")).to_contain_text("typed a card number")
    assert "4242 4242 4242 4242" not in page.content()
    both_widths(page, "agent-2-chat-open", accessible, fits)

    # The prompt leads to the Secure forms tab; the agent sends "Payment card".
    page.get_by_role("button", name="Choose a secure form").click()
    choice = page.get_by_label("Form to send")
    expect(choice).to_be_focused()
    expect(page.get_by_role("tab", name="Secure forms")).to_have_attribute("aria-selected", "true")
    choice.select_option(agent.form_id)
    page.get_by_role("button", name="Send to visitor").click()
    request = the_request(page)
    expect(request).to_have_count(1)
    expect(request.locator(".request-status")).to_have_text("Sent: waiting for the visitor")
    expect(messages).to_contain_text("Secure form 'Payment card' sent")

    # The visitor opens it from the card in the chat: the status moves by itself.
    card = visitor.locator(".form-card")
    expect(card.get_by_role("heading")).to_have_text("Secure form: Payment card")
    with visitor.context.expect_page() as opened:
        card.get_by_role("link", name=re.compile("Open secure form")).click()
    form = opened.value
    fill_payment_card_with_keyboard(form)
    form.close()

    expect(request.locator(".request-status")).to_have_text("Submitted: answers ready")
    notice = page.locator("#notice-list .notice")
    expect(notice).to_contain_text("Payment card was sent back by Vera")
    expect(notice.locator(".notice-timer")).to_contain_text("Off-the-record answers: view within")
    expect(page.locator("#live")).to_contain_text("Payment card was sent back by Vera")
    expect(messages).to_contain_text("Secure form 'Payment card' submitted")
    holds_no_value(page)
    both_widths(page, "agent-3-notification", accessible, fits)

    # View: masked until Show, a copy button, the off-the-record countdown.
    notice.get_by_role("button", name="View answers").click()
    panel = page.locator("#reveal")
    expect(panel.get_by_role("heading", name="Answers: Payment card")).to_be_visible()
    expect(panel).to_be_focused()
    number = panel.locator("#answer-card_number")
    expect(number).to_have_text("Visa •••• 4242")
    expect(panel.locator("#answer-cvv")).to_have_text("••••••••")
    expect(panel.locator(".off-timer")).to_contain_text("Shown only this once")
    expect(panel.locator(".reveal-timer")).to_contain_text("Cleared from this page in")
    assert CARD not in page.content()
    panel.get_by_role("button", name="Show Card number").click()
    expect(number).to_have_text(CARD)
    panel.get_by_role("button", name="Copy Card number").click()
    expect(page.locator("#live")).to_contain_text("Card number copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == CARD
    panel.get_by_role("button", name="Hide Card number").click()
    expect(number).to_have_text("Visa •••• 4242")
    panel.get_by_role("button", name="Show CVV").click()
    expect(panel.locator("#answer-cvv")).to_have_text("321")
    expect(request.locator(".request-status")).to_have_text("Answers viewed")
    both_widths(page, "agent-4-revealed", accessible, fits)

    # Closing takes every value off the page; focus goes back to where it came from.
    panel.get_by_role("button", name="Close and clear").click()
    expect(panel).to_be_hidden()
    expect(panel).to_be_empty()
    holds_no_value(page)
    clipboard_emptied(page)
    expect(notice.get_by_role("button", name="View answers")).to_be_focused()

    # A second look: a fresh key shows the stored answers; the CVV is refused in words.
    request.get_by_role("button", name="View again").click()
    expect(panel.locator("#answer-card_number")).to_have_text("Visa •••• 4242")
    refusal = panel.locator("#off-record-refusal")
    expect(refusal).to_contain_text("CVV: already viewed")
    expect(refusal).to_contain_text("can be shown only once")
    expect(panel.locator("#answer-cvv")).to_have_count(0)
    both_widths(page, "agent-5-refused", accessible, fits)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    # Once the chat has ended, the answers are refused altogether, in words.
    page.get_by_role("button", name="End chat").click()
    expect(page.locator("#chat-meta")).to_have_text("This chat has ended.")
    expect(page.get_by_label("Your message")).to_be_disabled()
    expect(visitor.locator("#messages")).to_contain_text("The chat has ended.")
    the_request(page).get_by_role("button", name="View again").click()
    words = page.locator("#reveal-refusal")
    expect(words).to_contain_text("This chat has ended, so its answers can no longer be shown")
    assert "409" not in words.inner_text()
    both_widths(page, "agent-6-ended", accessible, fits)


def submitted(stack: Stack, new_page: NewPage, agent: Agent, *, clock: bool = False) -> Page:
    """A signed-in agent's workspace, on a chat whose visitor just sent the form back."""
    page = new_page(WIDE)
    if clock:
        page.clock.install()
    sign_in(page, stack, agent)
    visitor = start_chat(stack, new_page, agent, "Omar")
    page.locator("#chat-list").get_by_role("link", name=re.compile("Omar")).click()
    page.get_by_label("Form to send").select_option(agent.form_id)
    page.get_by_role("button", name="Send to visitor").click()
    with visitor.context.expect_page() as opened:
        visitor.locator(".form-card").get_by_role("link").click()
    form = opened.value
    form.get_by_role("button", name="Open secure form").click()
    form.get_by_label("Name on card (required)").fill("Vera Visitor")
    form.get_by_label("Card number (required)").fill("4242 4242 4242 4242")
    form.get_by_label("Expiry (required)").fill("12/34")
    form.get_by_label("CVV (required)").fill("321")
    form.get_by_role("button", name="Send securely").click()
    expect(form.get_by_role("heading", level=1)).to_have_text("Your answers were sent")
    expect(page.locator("#notice-list .notice")).to_have_count(1)
    return page


@contextmanager
def revealed(stack: Stack, new_page: NewPage, agent: Agent) -> Iterator[tuple[Page, Locator]]:
    """A signed-in agent looking at a fresh submission's answers (its panel)."""
    page = submitted(stack, new_page, agent, clock=True)
    page.locator("#notice-list").get_by_role("button", name="View answers").click()
    panel = page.locator("#reveal")
    expect(panel.locator("#answer-card_number")).to_have_text("Visa •••• 4242")
    yield page, panel


def test_answers_leave_the_page_after_a_minute_and_on_signing_out(
    stack: Stack, new_page: NewPage
) -> None:
    agent = new_agent(stack)
    with revealed(stack, new_page, agent) as (page, panel):
        panel.get_by_role("button", name="Show Card number").click()
        expect(panel.locator("#answer-card_number")).to_have_text(CARD)
        page.clock.run_for(30_000)
        expect(panel.locator(".reveal-timer")).to_contain_text("30 seconds")
        # More time is one keypress away (WCAG 2.2.1), and counts from the press.
        panel.get_by_role("button", name="Keep for another minute").press("Enter")
        page.clock.run_for(50_000)
        expect(panel.locator("#answer-card_number")).to_have_text(CARD)
        expect(panel.locator(".reveal-timer")).to_contain_text("10 seconds")
        page.clock.run_for(11_000)
        expect(panel).to_be_hidden()
        expect(panel).to_be_empty()
        expect(page.locator("#live")).to_have_text(
            "The answers were cleared from the page after a minute."
        )
        holds_no_value(page)

        # The idle sign-out: the page hears `sf:signing-out` before it leaves, and the
        # answers are gone by the time anything after it runs.
        page.locator("#requests").get_by_role("button", name="View again").click()
        expect(panel.locator("#answer-card_number")).to_have_text("Visa •••• 4242")
        panel.get_by_role("button", name="Show Card number").click()
        page.evaluate(
            """() => document.addEventListener("sf:signing-out", () => {
                sessionStorage.setItem("after-signing-out",
                    JSON.stringify({hidden: document.getElementById("reveal").hidden,
                                    markup: document.getElementById("reveal").innerHTML}));
            })"""
        )
        page.clock.run_for(20 * 60 * 1000)  # past the site's idle timeout
        expect(page).to_have_url(re.compile(r"/login\?reason=idle"))
        seen = page.evaluate("() => JSON.parse(sessionStorage.getItem('after-signing-out'))")
        assert seen == {"hidden": True, "markup": ""}


def test_the_workspace_works_without_javascript(stack: Stack, new_page: NewPage) -> None:
    agent = new_agent(stack)
    page = new_page(NARROW, js=False)
    page.goto(f"{stack.base_url}/login")
    page.get_by_label("Site id").fill(stack.site_id)
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Sign in").click()
    visitor = new_page(NARROW, js=False)
    visitor.goto(f"{stack.base_url}/chat?site={stack.site_id}&agent={agent.id}")
    visitor.get_by_role("button", name="Start chat").click()
    page.reload()
    page.locator("#chat-list").get_by_role("link").first.click()
    page.get_by_label("Your message").fill("Hello from a page without scripts")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Hello from a page without scripts")
    page.get_by_role("button", name="Send to visitor").click()
    expect(page.locator("#error-summary")).to_contain_text("Choose a form to send.")
    page.get_by_label("Form to send").select_option(agent.form_id)
    page.get_by_role("button", name="Send to visitor").click()
    expect(page.locator("[role=status]").first).to_contain_text("The secure form was sent.")
    expect(the_request(page)).to_contain_text("Sent: waiting for the visitor")
    visitor.reload()
    expect(visitor.locator(".form-card")).to_contain_text("Secure form: Payment card")


def test_refusals_are_put_in_words(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Callable[[Page], bool]
) -> None:
    """Off-the-record answers that ran out, and a chat transferred to someone else."""
    tenant = OwnSite.make(stack)
    tenant.policies(off_record_ttl_s=2)
    form = tenant.call("POST", "/forms", tenant.admin, {**PAYMENT_FORM, "name": "payment"})
    assert form.status_code == 201, form.text
    agent_id, username, password = tenant.user("agent")
    agent = Agent(agent_id, username, password, form.json()["id"], tenant.site_id)
    page = submitted(stack, new_page, agent)
    notice = page.locator("#notice-list .notice")
    expect(notice.locator(".notice-timer")).to_have_text("Off-the-record answers have expired.")

    notice.get_by_role("button", name="View answers").click()
    panel = page.locator("#reveal")
    expect(panel.locator("#answer-card_number")).to_have_text("Visa •••• 4242")
    expect(panel.locator("#off-record-refusal")).to_contain_text(
        "CVV: expired. Off-the-record answers are kept for a few minutes only"
    )
    panel.get_by_role("button", name="Close and clear").click()

    # The admin hands the chat to another agent: the page hears it, and a look is refused.
    other_id, _, _ = tenant.user("agent")
    conversation_id = page.locator("#workspace").get_attribute("data-conversation")
    moved = tenant.call(
        "POST", f"/conversations/{conversation_id}/transfer", tenant.admin, {"agent_id": other_id}
    )
    assert moved.status_code == 200, moved.text
    expect(page.locator("#chat-meta")).to_have_text("This chat was transferred to another agent.")
    expect(page.get_by_role("button", name="Send to visitor")).to_have_count(0)
    the_request(page).get_by_role("button", name="View again").click()
    words = page.locator("#reveal-refusal")
    expect(words).to_contain_text("This chat was transferred to another agent.")
    assert "403" not in words.inner_text() and "forbidden" not in words.inner_text()
    both_widths(page, "agent-7-transferred", accessible, fits)
