"""The form catalogue over HTTP, against a real api and worker: versions that outstanding
requests keep, archiving, export and import, shipped templates, masked answers on reveal,
and markup in labels kept as text in JSON that browsers will not sniff."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
from support.flow import Desk, Sent, card_values
from support.stack import PAYMENT_FORM, Stack

API = "/api/v1"
HIDDEN = "••••••••"


def unique(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:10]}"


def call(
    desk: Desk, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    with desk.client() as c:
        return c.request(method, API + path, headers=headers or desk.admin, **kw)


def send(desk: Desk) -> Sent | httpx.Response:
    cid = desk.conversation()
    r = call(
        desk,
        "POST",
        f"/conversations/{cid}/secure-forms",
        headers=desk.agent,
        json={"form_id": desk.form_id},
    )
    if r.status_code != 201:
        return r
    return Sent(cid, r.json()["request_id"], r.json()["otk"])


def open_form(desk: Desk, sent: Sent) -> dict[str, Any]:
    with desk.client() as c:
        r = c.post(f"{API}/visitor/open", json={"otk": sent.otk})
    assert r.status_code == 200, r.text
    return dict(r.json())


def submit_and_reveal(desk: Desk, sent: Sent, submit_otk: str, values: dict[str, Any]) -> Any:
    r = desk.submit(submit_otk, values)
    assert r.status_code == 202, r.text
    event = desk.wait_submitted(sent.request_id)
    shown = desk.reveal(event["submission_id"], event["retrieve_otk"])
    assert shown.status_code == 200, shown.text
    return shown.json()


IBAN_FORM: dict[str, Any] = {
    "name": "refund",
    "title": "Refund to your bank",
    "fields": [
        {"name": "holder", "label": "Account holder", "type": "text", "required": True},
        {"name": "iban", "label": "IBAN", "type": "iban", "required": True},
    ],
}


def test_put_makes_a_new_version_and_sent_requests_keep_theirs(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent_v1 = send(desk)
    assert isinstance(sent_v1, Sent)

    v2 = {**IBAN_FORM, "name": unique("refund")}
    r = call(desk, "PUT", f"/forms/{desk.form_id}", json=v2)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": desk.form_id, "version": 2}
    current = call(desk, "GET", f"/forms/{desk.form_id}").json()
    assert current["version"] == 2 and current["title"] == "Refund to your bank"

    # The request sent before the edit opens, checks and reveals as version 1.
    opened = open_form(desk, sent_v1)
    assert [f["name"] for f in opened["form"]["fields"]] == [
        "cardholder",
        "card_number",
        "expiry",
        "cvv",
    ]
    wrong = desk.submit(opened["submit_otk"], {"holder": "Ada", "iban": "GB82WEST12345698765432"})
    assert wrong.status_code == 422
    assert set(wrong.json()["fields"]) == {
        "_unknown",
        "cardholder",
        "card_number",
        "expiry",
        "cvv",
    }
    body = submit_and_reveal(desk, sent_v1, opened["submit_otk"], card_values())
    assert body["form"]["title"] == PAYMENT_FORM["title"]
    assert body["values"]["card_number"] == "4242424242424242"
    assert body["masked"] == {
        "cardholder": HIDDEN,
        "card_number": "Visa •••• 4242",
        "expiry": HIDDEN,
        "cvv": HIDDEN,
    }

    # A request sent after the edit gets version 2.
    sent_v2 = send(desk)
    assert isinstance(sent_v2, Sent)
    opened = open_form(desk, sent_v2)
    assert [f["name"] for f in opened["form"]["fields"]] == ["holder", "iban"]
    body = submit_and_reveal(
        desk,
        sent_v2,
        opened["submit_otk"],
        {"holder": "Ada", "iban": "gb82 west 1234 5698 7654 32"},
    )
    assert body["values"] == {"holder": "Ada", "iban": "GB82WEST12345698765432"}
    assert body["masked"] == {"holder": HIDDEN, "iban": "GB•• •••• 5432"}


def test_archived_form_takes_no_new_requests_but_old_ones_still_work(stack: Stack) -> None:
    desk = Desk.make(stack)
    before = send(desk)
    assert isinstance(before, Sent)

    r = call(desk, "DELETE", f"/forms/{desk.form_id}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": desk.form_id, "archived": True}

    refused = send(desk)
    assert isinstance(refused, httpx.Response)
    assert refused.status_code == 404
    assert refused.json() == {"error": "not_found", "message": "This form is archived."}

    live = call(desk, "GET", "/forms", headers=desk.agent).json()["forms"]
    assert desk.form_id not in [f["id"] for f in live]
    everything = call(desk, "GET", "/forms?include_archived=true").json()["forms"]
    assert [f["archived"] for f in everything if f["id"] == desk.form_id] == [True]
    bad = call(desk, "GET", "/forms?include_archived=maybe")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_query"

    # Editing an archived form is refused; the request sent before still completes.
    again = call(desk, "PUT", f"/forms/{desk.form_id}", json=PAYMENT_FORM)
    assert again.status_code == 409
    opened = open_form(desk, before)
    body = submit_and_reveal(desk, before, opened["submit_otk"], card_values())
    assert body["off_the_record"] == {"cvv": "123"}


def test_export_and_import_round_trip(stack: Stack) -> None:
    desk = Desk.make(stack)
    r = call(desk, "GET", f"/forms/{desk.form_id}/export")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["format"] == "secureforms.form" and doc["format_version"] == 1
    assert doc["source"] == {"form_id": desk.form_id, "version": 1}
    original = call(desk, "GET", f"/forms/{desk.form_id}").json()

    # The same document clashes with the live form of that name...
    clash = call(desk, "POST", "/forms/import", json=doc)
    assert clash.status_code == 409 and clash.json()["error"] == "conflict"
    # ...and imports once renamed, with every other part of the definition unchanged.
    doc["definition"]["name"] = unique("imported")
    r = call(desk, "POST", "/forms/import", json=doc)
    assert r.status_code == 201, r.text
    copy = call(desk, "GET", f"/forms/{r.json()['id']}").json()
    assert r.json()["version"] == 1 and copy["id"] != desk.form_id
    for key in ("title", "fields"):
        assert copy[key] == original[key]
    again = call(desk, "GET", f"/forms/{r.json()['id']}/export").json()
    assert again["definition"] == doc["definition"]

    doc["definition"]["fields"][0]["type"] = "password"
    bad = call(desk, "POST", "/forms/import", json=doc)
    assert bad.status_code == 422
    assert bad.json()["error"] == "validation_failed"
    assert set(bad.json()["fields"]) == {"definition.fields[0].type"}
    not_a_doc = call(desk, "POST", "/forms/import", json=PAYMENT_FORM)
    assert not_a_doc.status_code == 422
    assert "format" in not_a_doc.json()["fields"]

    for method, path in (("GET", f"/forms/{desk.form_id}/export"), ("POST", "/forms/import")):
        assert call(desk, method, path, headers=desk.agent, json=doc).status_code == 403


def test_templates_are_offered_and_installed(stack: Stack) -> None:
    desk = Desk.make(stack)
    r = call(desk, "GET", "/form-templates", headers=desk.agent)
    assert r.status_code == 200, r.text
    templates = {t["name"]: t for t in r.json()["templates"]}
    assert set(templates) == {
        "payment_card",
        "identity_verification",
        "bank_account",
        "address_change",
    }
    assert [f["name"] for f in templates["identity_verification"]["fields"]] == [
        "date_of_birth",
        "ssn_last4",
        "secret_answer",
    ]

    name = unique("id_check")
    path = "/forms/from-template/identity_verification"
    made = call(desk, "POST", path, json={"name": name, "title": "ID check"})
    assert made.status_code == 201, made.text
    form = call(desk, "GET", f"/forms/{made.json()['id']}").json()
    assert (form["name"], form["title"]) == (name, "ID check")
    assert form["fields"] == templates["identity_verification"]["fields"]
    assert call(desk, "POST", path, json={"name": name}).status_code == 409
    assert call(desk, "POST", "/forms/from-template/loyalty").status_code == 404
    assert call(desk, "POST", path, headers=desk.agent, json={}).status_code == 403
    bad = call(desk, "POST", path, json={"name": "ID Check"})
    assert bad.status_code == 422 and set(bad.json()["fields"]) == {"name"}

    # The installed template works end to end, off the record as it says.
    desk.form_id = made.json()["id"]
    sent = send(desk)
    assert isinstance(sent, Sent)
    opened = open_form(desk, sent)
    answers = {"date_of_birth": "1990-04-23", "ssn_last4": "6789", "secret_answer": "Rex"}
    body = submit_and_reveal(desk, sent, opened["submit_otk"], answers)
    assert body["values"] == {}
    assert body["off_the_record"] == answers
    assert body["masked"] == dict.fromkeys(answers, HIDDEN)


def test_card_messages_over_http_name_the_brand_and_never_the_value(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = send(desk)
    assert isinstance(sent, Sent)
    submit_otk = open_form(desk, sent)["submit_otk"]
    r = desk.submit(submit_otk, card_values(card="4242 4242 4242 424", cvv="1234"))
    assert r.status_code == 422
    assert r.json()["fields"] == {
        "card_number": "Card number has 15 digits; Visa numbers have 13, 16 or 19 digits.",
        "cvv": "CVV must be the 3 digits printed on the back of the card.",
    }
    assert "424242424242424" not in r.text and "1234" not in r.text
    amex = desk.submit(submit_otk, card_values(card="3782 822463 10005", cvv="1234"))
    assert amex.status_code == 202, amex.text


def test_markup_in_labels_is_stored_as_text_and_served_as_json(stack: Stack) -> None:
    desk = Desk.make(stack)
    label = '<script>alert("x")</script>'
    definition = {
        "name": unique("markup"),
        "title": "<b>Title</b>",
        "fields": [{"name": "card", "label": label, "type": "card_number", "help": "<img src=x>"}],
    }
    r = call(desk, "POST", "/forms", json=definition)
    assert r.status_code == 201, r.text
    desk.form_id = r.json()["id"]

    got = call(desk, "GET", f"/forms/{desk.form_id}")
    sent = send(desk)
    assert isinstance(sent, Sent)
    with desk.client() as c:
        opened = c.post(f"{API}/visitor/open", json={"otk": sent.otk})
    listed = call(desk, "GET", "/forms")
    for answer, fields in (
        (got, got.json()["fields"]),
        (opened, opened.json()["form"]["fields"]),
        (listed, next(f for f in listed.json()["forms"] if f["id"] == desk.form_id)["fields"]),
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert fields[0]["label"] == label
        assert fields[0]["help"] == "<img src=x>"
    assert got.json()["title"] == "<b>Title</b>"


def test_concurrent_puts_answer_200_or_409_never_500(stack: Stack) -> None:
    desk = Desk.make(stack)
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def edit(i: int) -> None:
        body = {**PAYMENT_FORM, "name": f"payment_{i}_{time.time_ns()}"}
        barrier.wait()
        statuses.append(call(desk, "PUT", f"/forms/{desk.form_id}", json=body).status_code)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 409} and 200 in statuses
    final = call(desk, "GET", f"/forms/{desk.form_id}").json()["version"]
    assert final == 1 + statuses.count(200)


def test_openapi_documents_the_additions(stack: Stack) -> None:
    with stack.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/forms/{form_id}/export"]
    assert "post" in paths["/api/v1/forms/import"]
    assert "get" in paths["/api/v1/form-templates"]
    created = paths["/api/v1/forms/from-template/{template}"]["post"]
    assert set(created["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {
        "name",
        "title",
    }
