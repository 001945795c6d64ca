"""The generic forward against a real HTTP receiver listening on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.localstripe import Card, free_port
from support.receiver import Receiver, running_receiver

from connectors import HttpsForward, processor_for
from connectors.https_forward import resolve

CARD = Card(values={"card_number": "4242424242424242", "expiry": "12/31", "cvv": "123"})
TEMPLATE = {"card": {"pan": {"$field": "card_number"}, "exp": {"$field": "expiry"}}, "x": [1]}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/charge") as r:
        yield r


def test_the_template_is_filled_and_only_allow_listed_pointers_kept(
    receiver: Receiver,
) -> None:
    state, url = receiver, receiver.url
    state.status = 201
    state.answer = {"id": "tok_1", "status": "ok", "card": {"number": CARD.number}, "n": [7]}
    forward = processor_for(
        {
            "provider": "https",
            "url": url,
            "headers": {"Authorization": "Bearer gw"},
            "body_template": {**TEMPLATE, "amount": {"$field": "amount"}},
            "keep": ["/id", "/status", "/n/0", "/card"],
        }
    )
    out = forward.forward(CARD, amount=1999, currency="usd", description=None, idempotency_key="k1")
    headers, body = state.seen[0]
    assert body == {"card": {"pan": CARD.number, "exp": "12/31"}, "x": [1], "amount": 1999}
    assert headers["Authorization"] == "Bearer gw" and headers["Idempotency-Key"] == "k1"
    assert out.kind == "forwarded" and out.reference == "tok_1"
    # An object (here the echoed card) is never kept, even when allow-listed.
    assert out.response == {
        "status": 201,
        "/id": "tok_1",
        "/status": "ok",
        "/n/0": 7,
        "/card": None,
    }


def test_a_refusal_keeps_the_reason_without_the_number(receiver: Receiver) -> None:
    state, url = receiver, receiver.url
    state.status = 402
    state.answer = {"message": f"card {CARD.number} declined"}
    forward = HttpsForward(url, headers={}, body_template=TEMPLATE, keep=("/id", "/message"))
    out = forward.forward(CARD, amount=None, currency=None, description=None, idempotency_key="k")
    assert out.kind == "declined" and "402" in out.reason and "declined" in out.reason
    assert CARD.number not in out.reason and CARD.number not in json.dumps(out.response)


def test_a_field_the_form_lacks_is_refused_before_sending(receiver: Receiver) -> None:
    state, url = receiver, receiver.url
    forward = HttpsForward(url, headers={}, body_template={"p": {"$field": "pin"}})
    out = forward.forward(CARD, amount=None, currency=None, description=None, idempotency_key="k")
    assert out.kind == "failed" and "pin" in out.reason and not state.seen


def test_an_unreachable_gateway_is_its_own_outcome() -> None:
    forward = HttpsForward(f"http://127.0.0.1:{free_port()}/", headers={}, body_template=TEMPLATE)
    out = forward.forward(CARD, amount=None, currency=None, description=None, idempotency_key="k")
    assert out.kind == "unreachable"


def test_json_pointers_follow_rfc_6901() -> None:
    doc = {"a/b": {"m~n": [1, 2]}, "": 3}
    assert resolve(doc, "/a~1b/m~0n/1") == 2
    assert resolve(doc, "/") == 3
    assert resolve(doc, "/missing/x") is None
    assert resolve(doc, "/a~1b/m~0n/9") is None
