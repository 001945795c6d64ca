"""The visitor's secure form in Chromium: every state accessible (axe, WCAG 2.0 A/AA) at
1280 and 375 px, usable at 320 px and 200% zoom, with the keyboard alone, and without
JavaScript; the time warning and "I need more time"; markup in a label stays text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from support.flow import Desk, Sent
from support.shown import shows
from support.stack import PAYMENT_FORM, Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
WIDE, NARROW = (1280, 900), (375, 740)
CARD_OK, CARD_TYPO = "4242 4242 4242 4242", "4242 4242 4242 4241"


def link(stack: Stack, sent: Sent) -> str:
    return f"{stack.base_url}/f/{sent.otk}"


def active_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def tab_to(page: Page, predicate: str, limit: int = 25) -> None:
    """Press Tab until `predicate` (JS, given the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el) => {predicate}", page.evaluate_handle("document.activeElement")):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}")


def visible_text(page: Page) -> str:
    return page.locator("body").inner_text()


@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["1280", "375"])
def test_every_state_is_accessible(
    stack: Stack, new_page: NewPage, accessible: Check, size: tuple[int, int]
) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    width = size[0]
    page = new_page(size)

    page.goto(link(stack, sent))
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment card")
    accessible(page, f"visitor-1-preview-{width}")

    page.get_by_role("button", name="Open secure form").click()
    expect(page.get_by_label("Card number (required)")).to_be_visible()
    expect(page.locator("#time-left")).to_contain_text("Time left")
    accessible(page, f"visitor-2-empty-{width}")

    page.get_by_role("button", name="Send securely").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(4)
    expect(page.get_by_label("Card number (required)")).to_have_attribute("aria-invalid", "true")
    accessible(page, f"visitor-3-errors-{width}")

    page.get_by_label("Name on card (required)").fill("Ada Lovelace")
    page.get_by_label("Card number (required)").fill(CARD_OK)
    page.get_by_label("Expiry (required)").fill("12/34")
    page.get_by_label("CVV (required)").fill("123")
    page.get_by_role("button", name="Send securely").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers were sent")
    assert "/form/done" in page.url
    assert not shows(page.content(), "4242", "4242424242424242") and "Ada" not in page.content()
    accessible(page, f"visitor-4-confirmation-{width}")

    page.goto(link(stack, sent))
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    accessible(page, f"visitor-5-expired-{width}")


def test_filled_with_the_keyboard_alone_an_error_then_its_fix(
    stack: Stack, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    page = new_page(WIDE)
    page.goto(link(stack, sent))

    tab_to(page, "el.textContent.trim() === 'Open secure form'")
    page.keyboard.press("Enter")
    expect(page.locator("#secure-form")).to_be_visible()

    tab_to(page, "el.id === 'f-cardholder'")
    page.keyboard.type("Ada Lovelace")
    page.keyboard.press("Tab")
    assert active_id(page) == "f-card_number"
    page.keyboard.type(CARD_TYPO)
    page.keyboard.press("Tab")  # leaving the field checks it
    error = page.locator("#f-card_number-error")
    expect(error).to_contain_text("Card number is not valid")
    expect(page.locator("#f-card_number")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-card_number")).to_have_attribute(
        "aria-describedby", "f-card_number-hint f-card_number-error"
    )
    screenshot(page, "visitor-keyboard-1-blur-error")
    assert active_id(page) == "f-expiry"
    page.keyboard.type("12/34")
    page.keyboard.press("Tab")
    page.keyboard.type("123")
    page.keyboard.press("Enter")  # submits, with the typo still there

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Card number is not valid")
    screenshot(page, "visitor-keyboard-2-summary")
    page.keyboard.press("Tab")  # the summary's link to the field
    page.keyboard.press("Enter")
    expect(page.locator("#f-card_number")).to_be_focused()
    # Secrets were not put back; the name on the card was.
    expect(page.locator("#f-card_number")).to_have_value("")
    expect(page.locator("#f-cvv")).to_have_value("")
    expect(page.locator("#f-cardholder")).to_have_value("Ada Lovelace")
    page.keyboard.type(CARD_OK)
    page.keyboard.press("Tab")
    expect(page.locator("#f-card_number")).to_have_attribute("aria-invalid", "false")
    expect(page.locator("#live")).to_have_text("Fixed.")
    page.keyboard.type("12/34")
    page.keyboard.press("Tab")
    page.keyboard.type("123")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers were sent")
    screenshot(page, "visitor-keyboard-3-sent")
    # Back cannot show the answers again: the form page was no-store, so the browser has
    # no copy to show (and a resubmission would meet a spent key).
    try:
        page.go_back()
    except PlaywrightError as exc:
        assert "ERR_CACHE_MISS" in str(exc)
    page.wait_for_load_state()
    screenshot(page, "visitor-keyboard-4-back")
    assert not shows(page.content(), "4242", "4242424242424242")
    assert "Lovelace" not in page.content()
    page.reload()  # resubmits the form post: its key is spent
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    event = desk.wait_submitted(sent.request_id)
    shown = desk.reveal(event["submission_id"], event["retrieve_otk"]).json()
    assert shown["values"]["card_number"] == CARD_OK.replace(" ", "")
    assert shown["off_the_record"] == {"cvv": "123"}


def test_without_javascript_the_form_still_works(
    stack: Stack, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    page = new_page(WIDE, js=False)
    page.goto(link(stack, sent))
    page.get_by_role("button", name="Open secure form").click()
    expect(page.locator("#time-left")).to_contain_text("You have about")
    page.get_by_label("Name on card (required)").fill("Grace Hopper")
    page.get_by_label("Card number (required)").fill(CARD_TYPO)
    page.get_by_role("button", name="Send securely").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("autofocus", "")
    expect(summary.get_by_role("link", name=re.compile("Card number is not valid"))).to_be_visible()
    expect(page.locator("#f-card_number")).to_have_value("")
    expect(page.locator("#f-cardholder")).to_have_value("Grace Hopper")
    screenshot(page, "visitor-nojs-1-errors")

    page.get_by_role("button", name="I need more time").click()
    expect(page.get_by_role("status")).to_contain_text("more")
    screenshot(page, "visitor-nojs-2-more-time")

    page.get_by_label("Card number (required)").fill(CARD_OK)
    page.get_by_label("Expiry (required)").fill("11/33")
    page.get_by_label("CVV (required)").fill("456")
    page.get_by_role("button", name="Send securely").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers were sent")
    screenshot(page, "visitor-nojs-3-sent")
    event = desk.wait_submitted(sent.request_id)
    shown = desk.reveal(event["submission_id"], event["retrieve_otk"]).json()
    assert shown["values"]["cardholder"] == "Grace Hopper"
    assert shown["values"]["expiry"] == "11/33"


def test_the_time_warning_comes_early_and_more_time_is_one_press(
    stack: Stack, new_page: NewPage, accessible: Check
) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    page = new_page(WIDE)
    page.goto(link(stack, sent))
    page.get_by_role("button", name="Open secure form").click()
    warning = page.locator("#time-warning")
    expect(warning).to_be_empty()
    expect(page.locator("#time-left")).to_contain_text("Time left")
    first_key = page.locator("#submit-otk").input_value()

    # The submit key lives 300 s in the test settings: move the page's clock (installed
    # once the page runs, so its start is the real now) to 40 s before the end.
    page.clock.install()
    page.clock.fast_forward("04:20")
    expect(warning).to_contain_text("Do you need more time?")
    expect(page.locator("#time-left")).to_contain_text("seconds")
    accessible(page, "visitor-6-time-warning-1280")
    more = warning.get_by_role("button", name="I need more time")
    more.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#live")).to_contain_text("you now have")
    expect(warning).to_be_empty()
    renewed = page.locator("#submit-otk").input_value()
    assert renewed != first_key
    assert desk.submit(first_key, {}).status_code == 410

    page.get_by_label("Name on card (required)").fill("Ada Lovelace")
    page.get_by_label("Card number (required)").fill(CARD_OK)
    page.get_by_label("Expiry (required)").fill("12/34")
    page.get_by_label("CVV (required)").fill("123")
    page.get_by_role("button", name="Send securely").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers were sent")


@pytest.mark.parametrize(
    ("size", "scale", "name"),
    [((320, 640), 1, "320px"), ((640, 450), 2, "zoom-200")],
    ids=["320px", "zoom-200"],
)
def test_usable_at_320_px_and_at_200_percent_zoom(
    stack: Stack,
    new_page: NewPage,
    accessible: Check,
    fits: Callable[[Page], bool],
    size: tuple[int, int],
    scale: float,
    name: str,
) -> None:
    # 200% zoom of a 1280x900 window is a 640x450 CSS viewport at twice the pixel density.
    desk = Desk.make(stack)
    sent = desk.send()
    page = new_page(size, scale=scale)
    page.goto(link(stack, sent))
    assert fits(page)
    page.get_by_role("button", name="Open secure form").click()
    page.get_by_role("button", name="Send securely").click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert fits(page), "the form scrolls sideways"
    for control in ("#f-card_number", "#f-cvv"):
        box = page.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    accessible(page, f"visitor-7-errors-{name}")


def test_markup_in_a_label_is_shown_as_text(
    stack: Stack, new_page: NewPage, accessible: Check
) -> None:
    evil = "<script>alert(1)</script>"
    form: dict[str, Any] = json.loads(json.dumps(PAYMENT_FORM))
    form["title"] = f"Pay {evil}"
    form["fields"][0]["label"] = evil
    form["fields"][1]["help"] = '<img src=x onerror="alert(2)">'
    desk = Desk.make(stack, form)
    sent = desk.send()
    page = new_page(WIDE)
    page.goto(link(stack, sent))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pay {evil}")
    page.get_by_role("button", name="Open secure form").click()
    expect(page.locator("label[for=f-cardholder]")).to_have_text(f"{evil} (required)")
    expect(page.locator("#f-card_number-hint")).to_contain_text('<img src=x onerror="alert(2)">')
    assert page.locator("script").count() == 1  # our own module, nothing injected
    assert page.locator("img").count() == 0
    accessible(page, "visitor-8-markup-as-text")
