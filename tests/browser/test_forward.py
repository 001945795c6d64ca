"""Sending a card to the payment processor from the workspace, keyboard only, in Chromium.

An agent whose profile may forward payment details gets *Send to payment processor* next
to *View answers*; the card goes to a real localstripe (the site's Stripe base address)
and the answer is put in words: brand, last four, where it went, the payment's status. A
decline is put in words too. axe checks the panel at each step; the number is never in
the page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect
from support.keyboard import fill_payment_card_with_keyboard
from support.localstripe import KEY, LocalStripe, running_localstripe
from support.sites import OwnSite
from support.stack import PAYMENT_FORM, Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
WIDE = (1280, 900)
CARD = "4242424242424242"


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with running_localstripe() as s:
        yield s


def signed_in_forwarder(stack: Stack, page: Page, stripe: LocalStripe) -> tuple[str, str]:
    """A new site set up for Stripe, and one of its agents signed in: (site id, agent id)."""
    site = OwnSite.make(stack)
    r = site.call(
        "PUT",
        "/site/payments",
        site.admin,
        {"provider": "stripe", "secret_key": KEY, "api_base": stripe.url},
    )
    assert r.status_code == 200, r.text
    stack.create_form(site.admin, {**PAYMENT_FORM, "name": f"pay_{uuid.uuid4().hex[:8]}"})
    profile = site.profile("agent", ["secure_forms.use", "secure_forms.forward_payments"])
    agent_id, username, password = site.user("agent", profile)
    page.goto(f"{stack.base_url}/login")
    page.get_by_label("Site id").fill(site.site_id)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/agent$"))
    return site.site_id, agent_id


def card_sent_back(
    stack: Stack, new_page: NewPage, page: Page, site_id: str, agent_id: str
) -> None:
    visitor = new_page(WIDE)
    visitor.goto(f"{stack.base_url}/chat?site={site_id}&agent={agent_id}")
    visitor.get_by_label("Your name (optional)").fill("Nia")
    visitor.keyboard.press("Enter")
    expect(visitor.get_by_label("Your message")).to_be_visible()
    page.locator("#chat-list").get_by_role("link", name=re.compile("Nia")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Chat with Nia")).to_be_visible()
    page.get_by_label("Form to send").focus()
    page.keyboard.press("ArrowDown")
    page.get_by_role("button", name="Send to visitor").focus()
    page.keyboard.press("Enter")
    with visitor.context.expect_page() as opened:
        visitor.locator(".form-card").get_by_role("link").focus()
        visitor.keyboard.press("Enter")
    fill_payment_card_with_keyboard(opened.value)
    expect(page.locator("#notice-list .notice")).to_have_count(1)


def test_forward_from_the_workspace_with_the_keyboard(
    stack: Stack, new_page: NewPage, accessible: Check, localstripe: LocalStripe
) -> None:
    page = new_page(WIDE)
    site_id, agent_id = signed_in_forwarder(stack, page, localstripe)
    card_sent_back(stack, new_page, page, site_id, agent_id)

    send = page.locator("#notice-list").get_by_role("button", name="Send to payment processor")
    expect(send).to_be_visible()
    # Beside the form's own row too, next to View answers.
    expect(
        page.locator("#requests .request").get_by_role("button", name="Send to payment processor")
    ).to_be_visible()
    send.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#reveal")
    expect(panel.get_by_role("heading", level=2)).to_contain_text("Send to payment processor")
    expect(page.get_by_label("Amount to charge (optional)")).to_be_focused()
    accessible(page, "forward-1-panel")

    # A wrong amount is put in words, on the page, and nothing is sent.
    page.keyboard.type("lots")
    page.keyboard.press("Enter")
    result = panel.locator("#forward-result")
    expect(result).to_be_focused()
    expect(result).to_contain_text("Enter the amount as a number")
    before = len(localstripe.ids("payment_method"))

    page.get_by_label("Amount to charge (optional)").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("19.99")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("usd")
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Send card")).to_be_focused()
    page.keyboard.press("Enter")
    expect(result).to_contain_text("Done: Visa •••• 4242 — sent to Stripe (pm_")
    expect(result).to_contain_text(": succeeded.")
    expect(result).to_be_focused()
    assert len(localstripe.ids("payment_method")) == before + 1
    expect(page.locator("#notice-list .notice-timer")).to_have_text("")
    assert CARD not in page.content() and "4242 4242 4242 4242" not in page.content()
    accessible(page, "forward-2-done")

    # A reveal afterwards says where the card went, not what it was.
    page.locator("#notice-list").get_by_role("button", name="View answers").focus()
    page.keyboard.press("Enter")
    expect(panel.locator("#forwarded-card")).to_have_text(
        re.compile(r"^Card: Visa •••• 4242 — sent to Stripe \(pm_\w+\)\.$")
    )
    expect(panel.locator("#answer-card_number")).to_have_count(0)
    assert CARD not in page.content()
    accessible(page, "forward-3-revealed")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_an_admin_sets_stripe_in_the_console_with_the_keyboard(
    stack: Stack, new_page: NewPage, accessible: Check, localstripe: LocalStripe
) -> None:
    site = OwnSite.make(stack)
    page = new_page(WIDE)
    page.goto(f"{stack.base_url}/login")
    page.get_by_label("Site id").fill(site.site_id)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-password-1")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/admin$"))
    page.goto(f"{stack.base_url}/admin/payments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment processor")
    expect(page.locator("main")).to_contain_text("No payment processor yet")
    accessible(page, "payments-1-unset")

    # A publishable key is refused, named in the error summary, and never put back.
    page.get_by_label("Stripe secret key").focus()
    page.keyboard.type("pk_test_wrongkind")
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("Stripe secret key")
    assert "pk_test_wrongkind" not in page.content()
    accessible(page, "payments-2-refused")

    secret = "sk_test_consolekey9876"
    page.get_by_label("Stripe secret key").focus()
    page.keyboard.type(secret)
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type(localstripe.url)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("The payment settings were saved.")
    expect(page.locator("main")).to_contain_text("ending in 9876")
    assert secret not in page.content()
    accessible(page, "payments-3-saved")
    shown = site.call("GET", "/site/payments", site.admin).json()
    assert (shown["provider"], shown["base_url"], shown["key_last4"]) == (
        "stripe",
        localstripe.url,
        "9876",
    )
    assert shown["erase_after_forward"] is True
