"""The visitor's part of the story, keyboard only, as the browser tests play it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from playwright.sync_api import Page, expect


@dataclass(frozen=True)
class Words:
    """What the visitor's pages say, in one language (api/locales)."""

    heading: str = "Payment card"
    open: str = "Open secure form"
    required: str = "(required)"
    sent: str = "Your answers were sent"


def fill_payment_card_with_keyboard(
    form: Page, words: Words = Words(), on_errors: Callable[[Page], None] | None = None
) -> None:
    """Open the "Payment card" form, mistype the card number, land on the error summary,
    follow its link to the field, fix it and send — never touching the mouse.
    `on_errors` looks at the page while it shows the errors."""
    expect(form.get_by_role("heading", level=1)).to_have_text(words.heading)
    form.get_by_role("button", name=words.open).press("Enter")
    form.get_by_label(f"Name on card {words.required}").focus()
    form.keyboard.type("Vera Visitor")
    form.keyboard.press("Tab")
    form.keyboard.type("4242 4242 4242 4241")  # a typo
    form.keyboard.press("Tab")
    form.keyboard.type("12/34")
    form.keyboard.press("Tab")
    form.keyboard.type("321")
    form.keyboard.press("Enter")
    expect(form.locator("#error-summary")).to_be_focused()
    if on_errors is not None:
        on_errors(form)
    form.keyboard.press("Tab")
    form.keyboard.press("Enter")
    expect(form.get_by_label(f"Card number {words.required}")).to_be_focused()
    form.keyboard.type("4242 4242 4242 4242")
    form.keyboard.press("Tab")
    form.keyboard.type("12/34")
    form.keyboard.press("Tab")
    form.keyboard.type("321")
    form.keyboard.press("Enter")
    expect(form.get_by_role("heading", level=1)).to_have_text(words.sent)
