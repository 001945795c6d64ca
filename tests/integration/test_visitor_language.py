"""The visitor pages translated so far (the link preview, the confirmation, the expired
page) in the visitor's Accept-Language over HTTP, with `<html lang>` to match; a language
without a catalogue (Arabic) falls back to English cleanly."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import time

import pytest
from PIL import Image
from support.flow import Desk, card_values
from support.page_forms import hidden, post_sign_in
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
    # The form's own title keeps its language inside the French sentence.
    assert '<h1><span lang="en">Payment card</span>, pour Banque Acme</h1>' in page
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


REQUIRED = {"fr": "Name on card est obligatoire.", "es": "Name on card es obligatorio."}
REQUIRED["de"] = "Name on card ist erforderlich."


def _lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', page)
    assert found, page[:200]
    return found.group(1)


@pytest.mark.parametrize(
    ("chosen", "accept", "expected"),
    [("fr", "es-ES,es;q=0.9", "fr"), (None, "es-ES,es;q=0.9", "es"), (None, "ar-SA,ar", "de")],
    ids=["the-request", "accept-language", "the-site-default"],
)
def test_the_language_is_the_senders_then_the_browsers_then_the_sites(
    stack: Stack, chosen: str | None, accept: str, expected: str
) -> None:
    site = OwnSite.make(stack)
    assert site.policies(default_language="de")["default_language"] == "de"
    desk = site.desk()
    sent = desk.send(language=chosen)
    with stack.client() as c:
        c.headers["accept-language"] = accept
        preview = c.get(f"/f/{sent.otk}")
        assert _lang(preview.text) == expected
        form = c.post(f"/f/{sent.otk}", data={"csrf": hidden(preview.text, "csrf")})
        assert form.status_code == 200 and _lang(form.text) == expected
        posted = {
            "csrf": hidden(form.text, "csrf"),
            "otk": hidden(form.text, "otk"),
            "site": site.site_id,
        }
        wrong = c.post("/form/submit", data={**posted, "v_card_number": "4242"})
        assert wrong.status_code == 422 and _lang(wrong.text) == expected
        assert REQUIRED[expected] in wrong.text  # core's message, in the page's language
        # The field check the page's script makes sends the page's language.
        checked = c.post(
            "/api/v1/visitor/check",
            json={
                "otk": posted["otk"],
                "values": {},
                "fields": ["cardholder"],
                "language": expected,
            },
        )
        assert checked.json()["fields"] == {"cardholder": REQUIRED[expected]}
        values = {f"v_{k}": v for k, v in card_values().items()}
        sent_ok = c.post(
            "/form/submit", data={**posted, **values, "csrf": hidden(wrong.text, "csrf")}
        )
        assert sent_ok.status_code == 303
        done = c.get(sent_ok.headers["location"])
        assert _lang(done.text) == expected


@pytest.mark.parametrize("bad", ["xx", "ar", "FR", "fr-FR", 7])
def test_a_language_the_pages_do_not_speak_is_refused_by_name(stack: Stack, bad: object) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    with desk.client() as c:
        for path in (
            f"/api/v1/conversations/{cid}/secure-forms",
            f"/api/v1/chat/conversations/{cid}/secure-forms",
        ):
            r = c.post(path, json={"form_id": desk.form_id, "language": bad}, headers=desk.agent)
            assert r.status_code == 422, r.text
            assert "language" in r.json()["fields"], r.text


def test_the_agent_workspace_picker_chooses_the_visitor_pages_language(stack: Stack) -> None:
    desk = Desk.make(stack)
    agent_id, username, password = stack.new_user(desk.admin, "agent")
    desk.agent, desk.agent_id = stack.login(username, password), agent_id
    cid = desk.conversation()
    with stack.client() as c:
        assert post_sign_in(c, stack.site_id, username, password).status_code == 303
        token = c.post(f"/api/v1/chat/conversations/{cid}/visitor-token", headers=desk.agent)
        page = c.get(f"/agent?c={cid}").text
        assert '<option value="es" lang="es">español</option>' in page  # named in itself
        posted = {"csrf": hidden(page, "csrf"), "conversation": cid, "form_id": desk.form_id}
        refused = c.post("/agent/secure-forms", data={**posted, "language": "ar"})
        assert refused.headers["location"].endswith("notice=language#form-language")
        sent = c.post("/agent/secure-forms", data={**posted, "language": "es"})
        assert sent.headers["location"].endswith("notice=form-sent#secure-forms")
        events = c.get(
            "/api/v1/chat/events",
            params={"after": "0"},
            headers={"Authorization": f"Bearer {token.json()['token']}"},
        ).json()["events"]
        card = next(e for e in events if e["type"] == "chat.secure_form")
        otk = card["data"]["url"].rsplit("/f/", 1)[1]
        preview = c.get(f"/f/{otk}", headers={"accept-language": "fr"})
    assert _lang(preview.text) == "es"  # the agent's choice wins over the browser's
    assert "Abrir el formulario seguro" in preview.text


def test_a_forms_own_translations_show_and_missing_ones_fall_back_marked(stack: Stack) -> None:
    form = {
        "name": "plan",
        "title": "Your plan",
        "fields": [
            {
                "name": "card",
                "label": "Card number",
                "labels": {"fr": "Numéro de carte"},
                "help": "On the front",
                "helps": {"es": "En el anverso"},
                "type": "card_number",
                "required": True,
            },
            {
                "name": "plan",
                "label": "Plan",
                "type": "select",
                "options": ["Gold", "Silver"],
                "option_labels": {"fr": {"Silver": "Argent"}},
            },
        ],
    }
    desk = Desk.make(stack, form)
    sent = desk.send(language="fr")
    with stack.client() as c:
        preview = c.get(f"/f/{sent.otk}")
        page = c.post(f"/f/{sent.otk}", data={"csrf": hidden(preview.text, "csrf")})
        wrong = c.post(
            "/form/submit",
            data={
                "csrf": hidden(page.text, "csrf"),
                "otk": hidden(page.text, "otk"),
                "site": stack.site_id,
                "v_plan": "Silver",
            },
        )
    text = page.text
    assert '<label class="label" for="f-card">Numéro de carte <span class="required">' in text
    # No French help: the form's own, marked English, then the product's hint in French.
    assert '<span lang="en">On the front</span> Les 12 à 19 chiffres' in text
    assert '<option value="Silver">Argent</option>' in text  # the value stays the form's
    assert '<option value="Gold" lang="en">Gold</option>' in text
    assert '<span lang="en">Your plan</span>' in text
    assert "Numéro de carte est obligatoire." in wrong.text  # the message says the label too
    assert '<option value="Silver" selected>Argent</option>' in wrong.text


def test_the_editor_takes_other_languages_and_previews_each(stack: Stack) -> None:
    name = f"plan_{time.time_ns() % 10**9}"
    with stack.client() as c:
        assert post_sign_in(c, stack.site_id, *stack.admin).status_code == 303
        page = c.get("/admin/forms/new").text
        assert (
            'id="e0-label-fr" name="fields-0-label-fr" value="" autocomplete="off" lang="fr"'
            in page
        )
        assert page.count("<details") == 1  # the boxes sit in the field's one "More settings"
        data = {
            "csrf": hidden(page, "csrf"),
            "title": "Your plan",
            "name": name,
            "language": "en",
            "fields-0-label": "Plan",
            "fields-0-type": "select",
            "fields-0-options": "Gold\nSilver",
            "fields-0-label-fr": "Formule",
            "fields-0-options-fr": "Or\nArgent",
            "fields-0-help-es": "Elija uno",
            "preview_language": "fr",
            "op": "preview",
        }
        preview = c.post("/admin/forms/new", data=data).text
        frame = preview.split('<div class="preview-frame" lang="fr">', 1)[1]
        assert '<span lang="en">Your plan</span>' not in frame  # a heading of its own
        assert 'class="preview-title" lang="en">Your plan<' in frame
        assert ">Formule<" in frame and '<option value="Silver">Argent</option>' in frame
        assert "Choisissez…" in frame and "Envoyer en toute sécurité" in frame
        spanish = c.post("/admin/forms/new", data={**data, "preview_language": "es"}).text
        assert '<span lang="en">Plan</span>' in spanish and "Elija uno" in spanish
        saved = c.post("/admin/forms/new", data={**data, "op": "save"})
        assert saved.status_code == 303, saved.text
        bad = c.post(
            "/admin/forms/new", data={**data, "name": name + "_x", "language": "ar", "op": "save"}
        )
        assert bad.status_code == 422 and 'href="#form-language"' in bad.text
        listed = c.get("/api/v1/forms", headers=stack.admin_headers()).json()["forms"]
    field = next(f for f in listed if f["name"] == name)["fields"][0]
    assert field["labels"] == {"fr": "Formule"} and field["helps"] == {"es": "Elija uno"}
    assert field["option_labels"] == {"fr": {"Gold": "Or", "Silver": "Argent"}}
