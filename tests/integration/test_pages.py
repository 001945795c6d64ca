"""The visitor's secure form page over plain HTTP (no JavaScript): headers, CSRF, keys
spent only when they should be, errors without echoed secrets, PRG, and the 503 path."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support.brokers import PrivateRedis
from support.flow import Desk, Sent, card_values
from support.shown import shows
from support.stack import PAYMENT_FORM, Stack

FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


def open_page(client: httpx.Client, sent: Sent) -> httpx.Response:
    preview = client.get(f"/f/{sent.otk}")
    assert preview.status_code == 200, preview.text
    opened = client.post(f"/f/{sent.otk}", data={"csrf": hidden(preview.text, "csrf")})
    assert opened.status_code == 200, opened.text
    return opened


def posted(page: str, values: dict[str, str], action: str = "submit") -> dict[str, str]:
    return {
        "csrf": hidden(page, "csrf"),
        "otk": hidden(page, "otk"),
        "site": hidden(page, "site"),
        "action": action,
        **{f"v_{k}": v for k, v in values.items()},
    }


def status_of(desk: Desk, request_id: str) -> str:
    with desk.client() as c:
        r = c.get(f"/api/v1/secure-forms/{request_id}", headers=desk.agent)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def set_frame_ancestors(stack: Stack, origins: list[Any]) -> None:
    engine = stack.engines()["app"]
    with engine.begin() as conn:
        raw = conn.execute(
            sa.text("SELECT policies FROM sites WHERE id = :id"), {"id": stack.site_id}
        ).scalar_one()
        policies = json.loads(raw)
        policies["frame_ancestors"] = origins
        conn.execute(
            sa.text("UPDATE sites SET policies = :p WHERE id = :id"),
            {"p": json.dumps(policies), "id": stack.site_id},
        )
    engine.dispose()


def test_the_link_shows_the_title_and_spends_nothing(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    with desk.client() as c:
        for _ in range(2):  # a link previewer, then the visitor
            r = c.get(f"/f/{sent.otk}")
            assert r.status_code == 200
            assert "<h1>Payment card</h1>" in r.text
            assert "Open secure form" in r.text
            assert 'name="v_' not in r.text  # the form itself only after the POST
    assert status_of(desk, sent.request_id) == "sent"
    assert desk.open(sent)  # the key still opens the form
    assert sent.otk not in stack.logs()  # the access log names the route, not the path


def test_pages_send_strict_headers(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    with desk.client() as c:
        r = c.get(f"/f/{sent.otk}")
    csp = r.headers["content-security-policy"]
    for directive in (
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-type"].startswith("text/html")
    assert re.search(r'<html lang="en">', r.text)
    # Our own scripts and styles only: no inline <script> body, no style attribute.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)
    assert "style=" not in r.text


def test_a_site_allow_list_sets_frame_ancestors_and_nothing_else(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    set_frame_ancestors(
        stack, ["https://shop.example.com", "https://*.example.org:8443", "x; script-src *", 7]
    )
    try:
        with desk.client() as c:
            csp = c.get(f"/f/{sent.otk}").headers["content-security-policy"]
            chat_csp = c.get("/chat").headers["content-security-policy"]
    finally:
        set_frame_ancestors(stack, [])
    assert csp.endswith("frame-ancestors https://shop.example.com https://*.example.org:8443"), csp
    assert csp.count("script-src") == 1
    assert chat_csp.endswith("frame-ancestors 'none'")


@pytest.mark.parametrize("token", [None, "", "1700000000.forged", "junk"])
def test_a_post_without_the_right_csrf_token_is_refused_and_spends_nothing(
    stack: Stack, token: str | None
) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    data = {} if token is None else {"csrf": token}
    with desk.client() as c:
        r = c.post(f"/f/{sent.otk}", data=data)
        assert r.status_code == 403
        assert "text/html" in r.headers["content-type"]
        assert "nothing was used up" in r.text
        # A token made for another link does not open this one either.
        other = desk.send(sent.conversation_id)
        foreign = hidden(c.get(f"/f/{other.otk}").text, "csrf")
        assert c.post(f"/f/{sent.otk}", data={"csrf": foreign}).status_code == 403
        opened = open_page(c, sent)
        page = opened.text
        submit = posted(page, card_values())
        submit["csrf"] = data.get("csrf", "")
        assert c.post("/form/submit", data=submit).status_code == 403
    assert status_of(desk, sent.request_id) == "opened"
    assert desk.submit(hidden(page, "otk"), card_values()).status_code == 202


def test_plain_post_errors_then_success_redirects_to_a_confirmation(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    secret_card, secret_cvv = "4000056655665557", "9876"  # Luhn-invalid, too long
    with desk.client() as c:
        open_csrf = hidden(c.get(f"/f/{sent.otk}").text, "csrf")
        page = c.post(f"/f/{sent.otk}", data={"csrf": open_csrf}).text
        assert status_of(desk, sent.request_id) == "opened"
        assert 'autocomplete="cc-number"' in page and 'inputmode="numeric"' in page
        bad = card_values(card=secret_card, cvv=secret_cvv, name="Ada Lovelace")
        bad["expiry"] = "13/99"
        r = c.post("/form/submit", data=posted(page, bad))
        assert r.status_code == 422
        assert "There is a problem" in r.text
        assert 'href="#f-card_number"' in r.text and 'href="#f-cvv"' in r.text
        assert 'aria-invalid="true"' in r.text
        assert 'aria-describedby="f-card_number-hint f-card_number-error"' in r.text
        assert "<title>Error: " in r.text
        # Secrets are never echoed back; the name on the card may be.
        for secret in (secret_card, secret_cvv, "13/99"):
            assert secret not in r.text
        assert 'value="Ada Lovelace"' in r.text
        # The key survived the failed attempt; a refresh of the form page cannot reopen it.
        assert hidden(r.text, "otk") == hidden(page, "otk")
        assert c.post(f"/f/{sent.otk}", data={"csrf": open_csrf}).status_code == 410

        good = card_values(card="4242 4242 4242 4242", cvv="321")
        done = c.post("/form/submit", data=posted(r.text, good))
        assert done.status_code == 303
        location = done.headers["location"]
        assert location == f"/form/done?site={stack.site_id}"
        confirmation = c.get(location)
        assert confirmation.status_code == 200
        assert "Your answers were sent" in confirmation.text
        assert confirmation.headers["cache-control"] == "no-store"
        for value in good.values():
            assert value not in confirmation.text
        # Back and re-post: the key is spent, nothing is sent twice or shown.
        again = c.post("/form/submit", data=posted(r.text, good))
        assert again.status_code == 410
        assert not shows(again.text, "4242", "4242424242424242")

    event = desk.wait_submitted(sent.request_id)
    shown = desk.reveal(event["submission_id"], event["retrieve_otk"]).json()
    assert shown["values"]["card_number"] == "4242424242424242"
    assert shown["off_the_record"] == {"cvv": "321"}


def test_more_time_without_javascript_is_a_post_that_renews_the_key(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    with desk.client() as c:
        page = open_page(c, sent).text
        first = hidden(page, "otk")
        values = card_values(name="Grace Hopper")
        r = c.post("/form/submit", data=posted(page, values, action="extend"))
        assert r.status_code == 200
        assert "more." in r.text and "type them again" in r.text
        renewed = hidden(r.text, "otk")
        assert renewed != first
        assert 'value="Grace Hopper"' in r.text
        assert values["card_number"] not in r.text
    assert desk.submit(first, card_values()).status_code == 410
    assert desk.submit(renewed, card_values()).status_code == 202


def test_an_expired_or_unknown_link_is_a_clear_410_page(stack: Stack) -> None:
    with stack.client() as c:
        for r in (
            c.get("/f/" + "x" * 43),
            c.post("/form/submit", data={"otk": "y" * 43, "csrf": "1.x"}),
        ):
            assert r.status_code == 410
            assert "This link has expired" in r.text
            assert "ask the agent to send the form again" in r.text
            assert "nothing more to do" in r.text
            assert r.headers["content-security-policy"].endswith("frame-ancestors 'none'")


def test_the_field_check_stores_and_spends_nothing(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    otk = desk.open(sent)
    with desk.client() as c:
        r = c.post(
            "/api/v1/visitor/check",
            json={
                "otk": otk,
                "values": {"card_number": "4242424242424241", "cvv": "12"},
                "fields": ["card_number", "cvv", "nope"],
            },
        )
        assert r.status_code == 200, r.text
        errors = r.json()["fields"]
        assert set(errors) == {"card_number", "cvv"}
        assert not shows(r.text, "4242", "4242424242424242")
        ok = c.post(
            "/api/v1/visitor/check",
            json={
                "otk": otk,
                "values": {"card_number": "4242424242424242"},
                "fields": ["card_number"],
            },
        )
        assert ok.json() == {"fields": {}}
        bad = c.post("/api/v1/visitor/check", json={"otk": "z" * 43, "values": {}, "fields": []})
        assert bad.status_code == 410
    assert status_of(desk, sent.request_id) == "opened"
    assert desk.submit(otk, card_values()).status_code == 202


def test_labels_and_titles_are_text_never_markup(stack: Stack) -> None:
    evil = "<script>alert(1)</script>"
    form: dict[str, Any] = json.loads(json.dumps(PAYMENT_FORM))
    form["title"] = f"Pay {evil}"
    form["description"] = '<img src=x onerror="alert(2)">'
    form["fields"][0]["label"] = evil
    form["fields"][0]["help"] = "<b>bold</b>"
    desk = Desk.make(stack, form)
    sent = desk.send()
    with desk.client() as c:
        preview = c.get(f"/f/{sent.otk}").text
        page = open_page(c, sent).text
        errors = c.post("/form/submit", data=posted(page, {"cardholder": ""})).text
    with desk.client() as c:
        stored = c.get(f"/api/v1/forms/{desk.form_id}", headers=desk.admin).json()
    assert evil in json.dumps(stored, ensure_ascii=False)  # kept as the admin typed it
    for text in (preview, page, errors):
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img" not in page and "<b>bold" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_page_routes_stay_out_of_the_openapi_document(stack: Stack) -> None:
    with stack.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
        css = c.get("/static/app.css")
        script = c.get("/static/visitor-form.js")
    assert "/api/v1/visitor/check" in paths
    assert "/api/v1/chat/messages" in paths
    assert not any(p.startswith(("/f/", "/form/", "/chat", "/static")) for p in paths)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"


def test_when_the_queue_refuses_the_page_says_nothing_was_saved(tmp_path: Path) -> None:
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    try:
        with Stack.running(
            "sqlite", "redis", tmp_path / "stack", worker=False, SECUREFORMS_BROKER_URL=broker.url
        ) as stack:
            desk = Desk.make(stack)
            sent = desk.send()
            values = card_values(card="4000056655665556", cvv="987", name="Grace Hopper")
            with desk.client() as c:
                page = open_page(c, sent).text
                broker.stop()
                r = c.post("/form/submit", data=posted(page, values))
                assert r.status_code == 503
                assert "Nothing was saved" in r.text
                assert not shows(r.text, values["card_number"], values["cvv"])
                assert hidden(r.text, "otk") == hidden(page, "otk")
                broker.start()
                again = c.post("/form/submit", data=posted(r.text, values))
                assert again.status_code == 303, again.text
    finally:
        broker.stop()
