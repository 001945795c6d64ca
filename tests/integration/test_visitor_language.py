"""The visitor pages translated so far (the link preview, the confirmation, the expired
page) in the visitor's Accept-Language over HTTP, with `<html lang>` to match; a language
without a catalogue (Arabic) falls back to English cleanly."""

from __future__ import annotations

import base64
import html
import io
import json
import re

import pytest
from PIL import Image
from support.flow import Desk
from support.sites import OwnSite
from support.stack import Stack

CASES = {
    "fr-FR,fr;q=0.9,en;q=0.5": (
        "fr",
        "Ouvrir le formulaire sécurisé",
        "5 minutes",
        "Ce lien a expiré",
        "Vos réponses ont été envoyées",
    ),
    "es-ES,es;q=0.9": (
        "es",
        "Abrir el formulario seguro",
        "5 minutos",
        "Este enlace ha caducado",
        "Sus respuestas se han enviado",
    ),
    "de": (
        "de",
        "Sicheres Formular öffnen",
        "5 Minuten",
        "Dieser Link ist abgelaufen",
        "Ihre Antworten wurden gesendet",
    ),
    "ar-SA,ar;q=0.9": (
        "en",
        "Open secure form",
        "5 minutes",
        "This link has expired",
        "Your answers were sent",
    ),
}


@pytest.mark.parametrize("accept", list(CASES), ids=lambda a: a[:2])
def test_pages_speak_the_visitors_language(stack: Stack, accept: str) -> None:
    lang, button, minutes, expired, sent_heading = CASES[accept]
    desk = Desk.make(stack)
    sent = desk.send()
    with stack.client() as c:
        c.headers["accept-language"] = accept
        preview = c.get(f"/f/{sent.otk}")
        assert preview.status_code == 200
        assert f'<html lang="{lang}">' in preview.text
        assert button in preview.text and minutes in preview.text
        gone = c.get("/f/" + "x" * 43)
        assert gone.status_code == 410
        assert f'<html lang="{lang}">' in gone.text and expired in gone.text
        done = c.get(f"/form/done?site={stack.site_id}")
        assert f'<html lang="{lang}">' in done.text and sent_heading in done.text


def test_the_brand_heading_is_translated_around_the_sites_own_words(stack: Stack) -> None:
    site = OwnSite.make(stack)
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    r = site.call(
        "PUT",
        "/site/branding",
        site.admin,
        {
            "display_name": "Banque Acme",
            "support_url": "https://aide.acme.example/",
            "logo": base64.b64encode(png.getvalue()).decode(),
        },
    )
    assert r.status_code == 200, r.text
    sent = site.desk().send()
    with stack.client() as c:
        page = c.get(f"/f/{sent.otk}", headers={"accept-language": "fr"}).text
    assert "<h1>Payment card, pour Banque Acme</h1>" in page
    assert "Besoin d’aide ?" in page and "Assistance Banque Acme" in page


def test_the_chat_window_speaks_the_visitors_language(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    with desk.client() as c:
        r = c.post(f"/api/v1/chat/conversations/{cid}/visitor-token", headers=desk.agent)
        assert r.status_code == 201, r.text
        c.cookies.set("sf_chat", r.json()["token"])
        sent = c.post(
            f"/api/v1/chat/conversations/{cid}/secure-forms",
            json={"form_id": desk.form_id},
            headers=desk.agent,
        )
        assert sent.status_code == 201, sent.text
        window = c.get("/chat", headers={"accept-language": "es-MX,es;q=0.9"})
        english = c.get("/chat")
    assert window.status_code == 200
    assert '<html lang="es">' in window.text
    assert "Formulario seguro: Payment card" in window.text  # the card, the form's own title
    assert "Formulario seguro «Payment card» enviado" in window.text  # the transcript's line
    assert "Salir del chat" in window.text and "Su mensaje" in window.text
    texts = re.search(r'data-texts="([^"]+)"', window.text)
    assert texts and json.loads(html.unescape(texts.group(1)))["ended"] == "El chat ha terminado."
    # Without a preference (and no site default) the same window is English.
    assert '<html lang="en">' in english.text
    assert "Secure form 'Payment card' sent" in html.unescape(english.text)
    assert "Leave chat" in english.text
