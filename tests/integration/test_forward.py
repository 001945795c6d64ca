"""Forwarding a submitted card to the site's payment processor, over HTTP against a real
api and worker, with a real localstripe as Stripe (through the official library, its
base address set in the site's settings).

The agent who forwards sees the brand and the last four; afterwards the CVV is gone from
Redis, the number and expiry from the vault, and the emulator holds the PaymentMethod
(and the PaymentIntent) with the right last four and expiry. Refusals follow reveal's
rules; a decline or an unreachable processor loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support.flow import Desk, Sent, card_values, luhn_complete
from support.localstripe import KEY, LocalStripe, free_port, running_localstripe
from support.receiver import running_receiver
from support.scan import Canary, Item, Scanner, database_items, redis_items
from support.sites import OwnSite
from support.stack import Stack

FORWARD = "secure_forms.forward_payments"
USE = "secure_forms.use"


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with running_localstripe() as s:
        yield s


@dataclass
class Shop:
    site: OwnSite
    desk: Desk  # its agent may use secure forms and forward payment details
    stripe: LocalStripe

    def settings(self, **config: Any) -> httpx.Response:
        body = {"provider": "stripe", "secret_key": KEY, "api_base": self.stripe.url, **config}
        return self.site.call("PUT", "/site/payments", self.site.admin, body)


@pytest.fixture(scope="module")
def shop(stack: Stack, localstripe: LocalStripe) -> Shop:
    site = OwnSite.make(stack)
    desk = site.desk()
    profile = site.profile("agent", [USE, FORWARD])
    desk.agent_id, desk.agent = site.signed_in("agent", profile)
    shop = Shop(site, desk, localstripe)
    r = shop.settings()
    assert r.status_code == 200, r.text
    return shop


@dataclass
class Done:
    sent: Sent
    submission_id: str
    retrieve_otk: str
    card: str


def submitted(desk: Desk, card: str | None = None, conversation_id: str | None = None) -> Done:
    number = card or luhn_complete("424242", 16)
    sent = desk.send(conversation_id)
    r = desk.submit(desk.open(sent), card_values(card=number))
    assert r.status_code == 202, r.text
    event = desk.wait_submitted(sent.request_id)
    return Done(sent, event["submission_id"], event["retrieve_otk"], number)


def forward(
    desk: Desk,
    done: Done,
    otk: str | None = None,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    with desk.client() as c:
        return c.post(
            f"/api/v1/submissions/{done.submission_id}/forward",
            headers=headers or desk.agent,
            json={"otk": otk or done.retrieve_otk, **body},
        )


def fresh_otk(desk: Desk, done: Done, headers: dict[str, str] | None = None) -> str:
    with desk.client() as c:
        r = c.post(
            f"/api/v1/submissions/{done.submission_id}/retrieve-otk", headers=headers or desk.agent
        )
    assert r.status_code == 200, r.text
    return str(r.json()["otk"])


def database_rows(stack: Stack) -> list[Item]:
    engines = stack.engines()
    try:
        return [item for name, e in engines.items() for item in database_items(name, e)]
    finally:
        for engine in engines.values():
            engine.dispose()


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and body["message"], body
    return dict(body)


def test_a_forward_hands_the_card_to_stripe_and_keeps_none_of_it(shop: Shop) -> None:
    desk, stripe = shop.desk, shop.stripe
    done = submitted(desk)
    r = forward(desk, done, amount=1999, currency="usd")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert done.card not in r.text
    assert answer["processor"] == "stripe" and answer["payment_method"].startswith("pm_")
    assert (answer["brand"], answer["last4"]) == ("Visa", done.card[-4:])
    assert (answer["exp_month"], answer["exp_year"]) == (12, 2034)
    assert answer["payment_intent"]["status"] == "succeeded"

    held = stripe.get(f"/v1/payment_methods/{answer['payment_method']}")["card"]
    assert (held["last4"], held["exp_month"], held["exp_year"]) == (done.card[-4:], 12, 2034)
    intent = stripe.get(f"/v1/payment_intents/{answer['payment_intent']['id']}")
    assert (intent["status"], intent["amount"], intent["currency"]) == ("succeeded", 1999, "usd")
    assert intent["payment_method"] == answer["payment_method"]

    # A later reveal says where the card went, and has neither number, expiry nor CVV.
    r = desk.reveal(done.submission_id, fresh_otk(desk, done))
    assert r.status_code == 200, r.text
    shown = r.json()
    assert done.card not in r.text
    assert set(shown["values"]) == {"cardholder"}
    assert shown["off_the_record"] == {} and shown["off_record_status"] != "available"
    assert shown["masked"]["card_number"] == (
        f"Visa •••• {done.card[-4:]} — sent to Stripe ({answer['payment_method']})"
    )
    # The audit trail has ids only.
    [entry] = [
        e for e in shop.site.trail(type="form.forwarded") if done.submission_id in e["resource"]
    ]
    assert answer["payment_method"] in entry["resource"] and done.card[-4:] not in entry["resource"]


def test_a_second_forward_answers_the_first_and_sends_nothing(shop: Shop) -> None:
    desk, stripe = shop.desk, shop.stripe
    done = submitted(desk)
    before = len(stripe.ids("payment_method"))
    first = forward(desk, done)
    assert first.status_code == 200, first.text
    again = forward(desk, done, otk=fresh_otk(desk, done))
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert len(stripe.ids("payment_method")) == before + 1
    # The key was spent by the first forward: it can't be used again.
    assert_error(forward(desk, done), 410, "invalid_or_expired")


def test_a_decline_says_why_and_keeps_the_card_for_a_retry(shop: Shop) -> None:
    desk = shop.desk
    done = submitted(desk, card="4000000000000341")  # Stripe's "declined when charged"
    body = assert_error(forward(desk, done, amount=500, currency="eur"), 402, "payment_declined")
    assert "declined" in body["message"] and "card_declined" in body["message"]
    assert done.card not in str(body)
    [refused] = [
        e
        for e in shop.site.trail(type="form.forwarded")
        if done.submission_id in e["resource"] and e["outcome"] == "failure"
    ]
    assert "payment_declined" in refused["resource"] and done.card[-4:] not in refused["resource"]
    # Nothing was erased or taken: without a charge the same card now goes through (the
    # emulator needs the CVV for that, so it is still in Redis).
    r = forward(desk, done, otk=fresh_otk(desk, done))
    assert r.status_code == 200, r.text
    assert r.json()["payment_intent"] is None


def test_an_unreachable_processor_loses_nothing(shop: Shop) -> None:
    desk = shop.desk
    done = submitted(desk)
    assert shop.settings(api_base=f"http://127.0.0.1:{free_port()}").status_code == 200
    try:
        assert_error(forward(desk, done), 503, "processor_unreachable")
    finally:
        assert shop.settings().status_code == 200
    r = forward(desk, done, otk=fresh_otk(desk, done))
    assert r.status_code == 200, r.text


def test_who_may_forward_follows_reveal(stack: Stack, shop: Shop) -> None:
    site, desk = shop.site, shop.desk
    # Without the permission (the default agent profile): refused, the key not spent.
    done = submitted(desk)
    _, plain_agent = site.signed_in("agent")
    assert_error(forward(desk, done, headers=plain_agent), 403, "forbidden")
    _, manager = site.signed_in("manager")
    assert_error(forward(desk, done, headers=manager), 403, "forbidden")
    # A viewer of the chat, with the permission, still isn't the sender.
    profile = site.profile("agent", [USE, FORWARD])
    viewer_id, viewer = site.signed_in("agent", profile)
    with desk.client() as c:
        r = c.post(
            f"/api/v1/conversations/{done.sent.conversation_id}/participants",
            headers=desk.agent,
            json={"agent_id": viewer_id},
        )
    assert r.status_code == 200, r.text
    assert_error(forward(desk, done, headers=viewer), 403, "forbidden")
    # After a transfer, neither the sender nor the new agent.
    with desk.client() as c:
        r = c.post(
            f"/api/v1/conversations/{done.sent.conversation_id}/transfer",
            headers=desk.agent,
            json={"agent_id": viewer_id},
        )
    assert r.status_code == 200, r.text
    assert_error(forward(desk, done), 403, "forbidden")
    assert_error(forward(desk, done, headers=viewer), 403, "forbidden")
    # After close: the conversation is over.
    closed = submitted(desk)
    with desk.client() as c:
        r = c.post(f"/api/v1/conversations/{closed.sent.conversation_id}/close", headers=desk.agent)
    assert r.status_code == 200, r.text
    assert_error(forward(desk, closed), 409, "conversation_closed")


def test_an_agent_who_may_only_forward_never_sees_the_card(shop: Shop) -> None:
    site = shop.site
    forwarder = Desk(
        shop.desk.stack,
        site.admin,
        shop.desk.form_id,
        *site.signed_in("agent", site.profile("agent", [FORWARD])),
    )
    done = submitted(forwarder)
    assert_error(forwarder.reveal(done.submission_id, done.retrieve_otk), 403, "forbidden")
    r = forward(forwarder, done)  # the refused reveal did not spend the key
    assert r.status_code == 200, r.text
    assert r.json()["last4"] == done.card[-4:] and done.card not in r.text


def test_a_site_without_a_processor_is_told_so(stack: Stack) -> None:
    site = OwnSite.make(stack)
    desk = site.desk()
    desk.agent_id, desk.agent = site.signed_in("agent", site.profile("agent", [USE, FORWARD]))
    done = submitted(desk)
    assert_error(forward(desk, done), 409, "payments_not_configured")
    assert site.call("GET", "/site/payments", site.admin).json() == {"provider": None}


def test_settings_show_only_provider_base_and_last_four(stack: Stack, shop: Shop) -> None:
    site = shop.site
    secret = "sk_test_" + "x" * 20 + "9z8y"
    r = shop.settings(secret_key=secret, erase_after_forward=True)
    try:
        assert r.status_code == 200, r.text
        shown = site.call("GET", "/site/payments", site.admin).json()
        assert {k: shown[k] for k in ("provider", "base_url", "key_last4")} == {
            "provider": "stripe",
            "base_url": shop.stripe.url,
            "key_last4": "9z8y",
        }
        assert secret not in str(shown)
        # Sealed at rest: the app DB holds no trace of the key.
        hits = Scanner([Canary("key", secret)]).scan(database_rows(stack))
        assert not hits, hits
    finally:
        assert shop.settings().status_code == 200
    bad = site.call(
        "PUT", "/site/payments", site.admin, {"provider": "stripe", "secret_key": "pk_1"}
    )
    assert set(assert_error(bad, 422, "validation_failed")["fields"]) == {"secret_key"}
    bad = site.call(
        "PUT",
        "/site/payments",
        site.admin,
        {"provider": "https", "url": "ftp://x", "body_template": [], "extra": 1},
    )
    assert set(assert_error(bad, 422, "validation_failed")["fields"]) == {
        "url",
        "body_template",
        "extra",
    }
    bad = site.call("PUT", "/site/payments", site.admin, {"provider": "paypal"})
    assert set(assert_error(bad, 422, "validation_failed")["fields"]) == {"provider"}
    assert_error(site.call("GET", "/site/payments", shop.desk.agent), 403, "forbidden")


def test_no_card_number_anywhere_after_a_forward(stack: Stack, shop: Shop) -> None:
    desk = shop.desk
    done = submitted(desk)
    r = forward(desk, done, amount=1200, currency="usd")
    assert r.status_code == 200, r.text
    scanner = Scanner([Canary("card", done.card, digits=True)])
    items = database_rows(stack)
    for client in stack.redis_clients():
        items += redis_items(client)
        client.close()
    items += [("logs", stack.logs()), ("answer", r.text)]
    hits = scanner.scan(items)
    assert not hits, "\n".join(map(str, hits))


def test_the_generic_forward_reaches_a_real_receiver(stack: Stack) -> None:
    with running_receiver("/vault") as gateway:
        site = OwnSite.make(stack)
        desk = site.desk()
        desk.agent_id, desk.agent = site.signed_in("agent", site.profile("agent", [USE, FORWARD]))
        template = {"card": {"pan": {"$field": "card_number"}, "exp": {"$field": "expiry"}}}
        r = site.call(
            "PUT",
            "/site/payments",
            site.admin,
            {
                "provider": "https",
                "url": gateway.url,
                "headers": {"Authorization": "Bearer gateway-key"},
                "body_template": {**template, "amount": {"$field": "amount"}},
            },
        )
        assert r.status_code == 200, r.text
        done = submitted(desk)
        # The gateway echoes the card back: only /id and /status may be kept of that.
        gateway.answer = {"id": "tok_9", "status": "stored", "echo": done.card}
        r = forward(desk, done, amount=250, currency="gbp")
        assert r.status_code == 200, r.text
        assert (r.json()["processor"], r.json()["payment_method"]) == ("https", "tok_9")
        assert done.card not in r.text
        [(headers, body)] = gateway.seen
        assert headers["Idempotency-Key"] == f"secureforms-forward-{done.submission_id}"
        assert headers["Authorization"] == "Bearer gateway-key"
        assert body == {"card": {"pan": done.card, "exp": "12/34"}, "amount": 250}
