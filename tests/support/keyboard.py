"""The visitor's part of the story, keyboard only, as the browser tests play it."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def fill_payment_card_with_keyboard(form: Page) -> None:
    """Open the "Payment card" form, mistype the card number, land on the error summary,
    follow its link to the field, fix it and send — never touching the mouse."""
    expect(form.get_by_role("heading", level=1)).to_have_text("Payment card")
    form.get_by_role("button", name="Open secure form").press("Enter")
    form.get_by_label("Name on card (required)").focus()
    form.keyboard.type("Vera Visitor")
    form.keyboard.press("Tab")
    form.keyboard.type("4242 4242 4242 4241")  # a typo
    form.keyboard.press("Tab")
    form.keyboard.type("12/34")
    form.keyboard.press("Tab")
    form.keyboard.type("321")
    form.keyboard.press("Enter")
    expect(form.locator("#error-summary")).to_be_focused()
    form.keyboard.press("Tab")
    form.keyboard.press("Enter")
    expect(form.get_by_label("Card number (required)")).to_be_focused()
    form.keyboard.type("4242 4242 4242 4242")
    form.keyboard.press("Tab")
    form.keyboard.type("12/34")
    form.keyboard.press("Tab")
    form.keyboard.type("321")
    form.keyboard.press("Enter")
    expect(form.get_by_role("heading", level=1)).to_have_text("Your answers were sent")
