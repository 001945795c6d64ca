"""A branded visitor form in Chromium at 1280 and 375 px: the site's name, colour and logo
reach the page through its own stylesheet and image (no CSP refusal), and every state
stays accessible (axe, WCAG 2.0 A/AA)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
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


def fill_and_send(page: Page, required: str = "(required)", send: str = "Send securely") -> None:
    page.get_by_label(f"Name on card {required}").fill("Ada Lovelace")
    page.get_by_label(f"Card number {required}").fill("4242 4242 4242 4242")
    page.get_by_label(f"Expiry {required}").fill("12/34")
    page.get_by_label(f"CVV {required}").fill("123")
    page.get_by_role("button", name=send).click()


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


@pytest.mark.parametrize(
    ("accept", "lang", "button", "sent_heading", "required", "send"),
    [
        (
            "fr-FR,fr;q=0.9",
            "fr",
            "Ouvrir le formulaire sécurisé",
            "Vos réponses ont été envoyées",
            "(obligatoire)",
            "Envoyer en toute sécurité",
        ),
        (
            "es-ES,es;q=0.9",
            "es",
            "Abrir el formulario seguro",
            "Sus respuestas se han enviado",
            "(obligatorio)",
            "Enviar de forma segura",
        ),
    ],
    ids=["fr", "es"],
)
def test_the_translated_pages_of_a_branded_form_are_accessible(
    stack: Stack,
    new_page: NewPage,
    accessible: Check,
    accept: str,
    lang: str,
    button: str,
    sent_heading: str,
    required: str,
    send: str,
) -> None:
    site = branded_site(stack)
    sent = site.desk().send()
    page = new_page(NARROW)
    # The context's locale (en-GB) sets Chromium's own header; each request is given ours.
    page.route(
        "**/*",
        lambda route: route.continue_(headers={**route.request.headers, "accept-language": accept}),
    )
    page.goto(f"{stack.base_url}/f/{sent.otk}")
    assert page.evaluate("document.documentElement.lang") == lang
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Bank")
    accessible(page, f"branded-{lang}-preview-375")
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})
    accessible(page, f"branded-{lang}-preview-1280")
    page.get_by_role("button", name=button).click()
    fill_and_send(page, required, send)
    expect(page.get_by_role("heading", level=1)).to_have_text(sent_heading)
    assert page.evaluate("document.documentElement.lang") == lang
    accessible(page, f"branded-{lang}-confirmation-1280")
