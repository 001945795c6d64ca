"""The Stripe connector through the official library against a real localstripe."""

from __future__ import annotations

import logging
import uuid

import pytest
from support.localstripe import KEY, Card, LocalStripe, free_port

from connectors import StripeProcessor, processor_for


def _key() -> str:
    return f"sf-{uuid.uuid4()}"


def test_a_card_becomes_a_payment_method_the_emulator_holds(localstripe: LocalStripe) -> None:
    stripe = StripeProcessor(KEY, api_base=localstripe.url)
    out = stripe.forward(
        Card(number="4000056655665556", exp_month=7, exp_year=2032),
        amount=None,
        currency=None,
        description=None,
        idempotency_key=_key(),
    )
    assert out.kind == "forwarded" and out.payment_intent is None
    assert out.reference is not None and out.reference.startswith("pm_")
    held = localstripe.get(f"/v1/payment_methods/{out.reference}")
    assert (held["card"]["last4"], held["card"]["exp_month"], held["card"]["exp_year"]) == (
        "5556",
        7,
        2032,
    )


def test_with_an_amount_the_payment_intent_is_confirmed(localstripe: LocalStripe) -> None:
    out = processor_for({"provider": "stripe", "secret_key": KEY, "api_base": localstripe.url})
    result = out.forward(
        Card(), amount=1999, currency="usd", description=None, idempotency_key=_key()
    )
    assert result.kind == "forwarded" and result.payment_intent is not None
    held = localstripe.get(f"/v1/payment_intents/{result.payment_intent['id']}")
    assert held["status"] == result.payment_intent["status"] == "succeeded"
    assert (held["amount"], held["currency"], held["payment_method"]) == (
        1999,
        "usd",
        result.reference,
    )


def test_a_decline_is_an_outcome_in_words_without_the_number(
    localstripe: LocalStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stripe = StripeProcessor(KEY, api_base=localstripe.url)
    card = Card(number="4000000000000341")  # attaches, then is declined when charged
    out = stripe.forward(card, amount=500, currency="eur", description=None, idempotency_key=_key())
    assert out.kind == "declined"
    assert "declined" in out.reason and "card_declined" in out.reason
    assert card.number not in out.reason
    assert card.number not in caplog.text  # the library's DEBUG request log is filtered


def test_an_unreachable_stripe_is_its_own_outcome() -> None:
    stripe = StripeProcessor(KEY, api_base=f"http://127.0.0.1:{free_port()}")
    out = stripe.forward(
        Card(), amount=None, currency=None, description=None, idempotency_key=_key()
    )
    assert out.kind == "unreachable" and out.reference is None


def test_a_refused_key_is_a_processor_error(localstripe: LocalStripe) -> None:
    stripe = StripeProcessor("not-a-key", api_base=localstripe.url)
    out = stripe.forward(
        Card(), amount=None, currency=None, description=None, idempotency_key=_key()
    )
    assert out.kind == "failed" and out.reason
