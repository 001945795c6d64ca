"""A branded visitor form in Chromium at 1280 and 375 px: the site's name, colour and logo
reach the page through its own stylesheet and image (no CSP refusal), and every state
stays accessible (axe, WCAG 2.0 A/AA) — in English, and in French and Spanish filled with
the keyboard alone, errors and confirmation in the chosen language."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from support.keyboard import Words, fill_payment_card_with_keyboard
from support.sites import ADMIN_PASSWORD, OwnSite
from support.stack import Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
WIDE, NARROW = (1280, 900), (375, 740)
COLOUR, COLOUR_RGB = "#0b5394", "rgb(11, 83, 148)"


def branded_site(stack: Stack) -> OwnSite:
    site = OwnSite.make(stack)
    logo = io.BytesIO()
    Image.new("RGB", (900, 300), (11, 83, 148)).save(logo, "WEBP")
    r = site.call(
        "PUT",
        "/site/branding",
        site.admin,
        {
            "display_name": "Acme Bank",
            "primary_color": COLOUR,
            "support_url": "https://help.acme.example/",
            "logo": base64.b64encode(logo.getvalue()).decode(),
        },
    )
    assert r.status_code == 200, r.text
    return site


def fill_and_send(page: Page) -> None:
    page.get_by_label("Name on card (required)").fill("Ada Lovelace")
    page.get_by_label("Card number (required)").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (required)").fill("12/34")
    page.get_by_label("CVV (required)").fill("123")
    page.get_by_role("button", name="Send securely").click()


@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["1280", "375"])
def test_a_branded_form_is_the_sites_own_and_accessible(
    stack: Stack, new_page: NewPage, accessible: Check, size: tuple[int, int]
) -> None:
    site = branded_site(stack)
    sent = site.desk().send()
    width = size[0]
    page = new_page(size)

    page.goto(f"{stack.base_url}/f/{sent.otk}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment card, for Acme Bank")
    header = page.locator(".site-header")
    expect(header).to_contain_text("Acme Bank")
    assert header.evaluate("el => getComputedStyle(el).backgroundColor") == COLOUR_RGB
    logo = page.locator("img.brand-logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 512  # scaled from 900
    expect(page.get_by_role("link", name="Acme Bank support")).to_have_attribute(
        "href", "https://help.acme.example/"
    )
    accessible(page, f"branded-1-preview-{width}")

    page.get_by_role("button", name="Open secure form").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment card, for Acme Bank")
    button = page.get_by_role("button", name="Send securely")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == COLOUR_RGB
    accessible(page, f"branded-2-form-{width}")

    button.click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page).to_have_title("Error: Payment card, for Acme Bank – Secure forms")
    accessible(page, f"branded-3-errors-{width}")

    fill_and_send(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers were sent")
    expect(page.locator(".site-header")).to_contain_text("Acme Bank")
    accessible(page, f"branded-4-confirmation-{width}")


def test_the_console_brand_page_is_accessible_and_shows_a_refusal(
    stack: Stack, new_page: NewPage, accessible: Check
) -> None:
    site = branded_site(stack)
    page = new_page(WIDE)
    page.goto(f"{stack.base_url}/login")
    page.get_by_label("Site id").fill(site.site_id)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Brand"
    ).click()
    expect(page.get_by_role("img", name="The current logo")).to_be_visible()
    accessible(page, "branded-console-1280")
    page.get_by_label("Brand colour (required)").fill("#ffcc00")
    page.get_by_role("button", name="Save brand").click()
    expect(page.locator("#error-summary")).to_contain_text("nearest colour that passes")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    accessible(page, "branded-console-errors-375")


FRENCH = Words(
    "Payment card, pour Acme Bank",
    "Ouvrir le formulaire sécurisé",
    "(obligatoire)",
    "Vos réponses ont été envoyées",
)
SPANISH = Words(
    "Payment card, para Acme Bank",
    "Abrir el formulario seguro",
    "(obligatorio)",
    "Sus respuestas se han enviado",
)


@pytest.mark.parametrize(
    ("lang", "chosen", "words", "problem", "invalid"),
    [
        # French from the browser's Accept-Language; Spanish chosen by the sender.
        ("fr", None, FRENCH, "Il y a un problème", "Card number n’est pas valide"),
        ("es", "es", SPANISH, "Hay un problema", "Card number no es válido"),
    ],
    ids=["fr", "es"],
)
@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["1280", "375"])
def test_a_branded_form_in_french_and_spanish_with_the_keyboard_alone(
    stack: Stack,
    new_page: NewPage,
    accessible: Check,
    lang: str,
    chosen: str | None,
    words: Words,
    problem: str,
    invalid: str,
    size: tuple[int, int],
) -> None:
    site = branded_site(stack)
    sent = site.desk().send(language=chosen)
    page = new_page(size)
    # The context's locale (en-GB) sets Chromium's own header; each request is given ours.
    accept = "fr-FR,fr;q=0.9" if lang == "fr" else "de-DE,de;q=0.9"  # the sender's Spanish wins
    page.route(
        "**/*",
        lambda route: route.continue_(headers={**route.request.headers, "accept-language": accept}),
    )
    page.goto(f"{stack.base_url}/f/{sent.otk}")
    assert page.evaluate("document.documentElement.lang") == lang
    expect(page.locator(".site-header")).to_contain_text("Acme Bank")
    accessible(page, f"branded-{lang}-preview-{size[0]}")

    def errors_in_the_language(form: Page) -> None:
        summary = form.locator("#error-summary")
        expect(summary).to_contain_text(problem)
        expect(summary).to_contain_text(invalid)  # core's message, said in the language
        assert form.evaluate("document.documentElement.lang") == lang
        accessible(form, f"branded-{lang}-errors-{size[0]}")

    fill_payment_card_with_keyboard(page, words, errors_in_the_language)
    assert page.evaluate("document.documentElement.lang") == lang
    expect(page.locator(".site-header")).to_contain_text("Acme Bank")
    accessible(page, f"branded-{lang}-confirmation-{size[0]}")
