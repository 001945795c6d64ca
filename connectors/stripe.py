"""Stripe through its official library: a PaymentMethod from the card, then, given an
amount, a confirmed PaymentIntent.

Each call has its own `StripeClient` (key and base address per site, nothing global), no
automatic retries (the agent's retry reuses the idempotency keys instead), and a timeout
of TIMEOUT_S. Stripe accepts card numbers through its API only on accounts with raw card
data access enabled (docs/payments.md).
"""

from __future__ import annotations

import logging

import stripe

from connectors.payments import TIMEOUT_S, CardInput, Outcome, scrubbed


class _NoDebug(logging.Filter):
    # The library logs each request's form body at DEBUG: with a card number in it.
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


logging.getLogger("stripe").addFilter(_NoDebug())


class StripeProcessor:
    name = "stripe"

    def __init__(self, secret_key: str, *, api_base: str | None = None) -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_S),
        )

    def forward(
        self,
        card: CardInput,
        *,
        amount: int | None,
        currency: str | None,
        description: str | None,
        idempotency_key: str,
    ) -> Outcome:
        card_params: dict[str, str | int] = {
            "number": card.number,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }
        if card.cvc:
            card_params["cvc"] = card.cvc
        try:
            method = self._client.v1.payment_methods.create(
                params={"type": "card", "card": card_params},  # type: ignore[arg-type]
                options={"idempotency_key": f"{idempotency_key}-pm"},
            )
            intent = None
            if amount is not None and currency:
                params: dict[str, object] = {
                    "amount": amount,
                    "currency": currency,
                    "payment_method": method.id,
                    "payment_method_types": ["card"],
                    "confirm": True,
                }
                if description:
                    params["description"] = description
                found = self._client.v1.payment_intents.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": f"{idempotency_key}-pi"},
                )
                intent = {"id": found.id, "status": found.status}
        except stripe.CardError as exc:
            return Outcome("declined", _reason(exc, card.number))
        except stripe.APIConnectionError:
            return Outcome("unreachable", "Stripe could not be reached; nothing was charged.")
        except stripe.StripeError as exc:
            return Outcome("failed", _reason(exc, card.number))
        return Outcome("forwarded", reference=method.id, payment_intent=intent)


def _reason(exc: stripe.StripeError, number: str) -> str:
    error = exc.error
    code = (error.decline_code or error.code) if error is not None else exc.code
    message = exc.user_message or (error.message if error is not None else None) or ""
    text = f"{message} ({code})" if code else message
    return scrubbed(text or "Stripe refused the request.", number)
