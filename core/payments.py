"""Hand a submitted card to the site's payment processor, so the agent never sees it.

The rules for who may are reveal's (core.submissions.accessible), with the permission
*forward payment details* in place of *use secure forms*; the retrieve key is spent the
same way. core states what it needs of a processor as `PaymentProcessor`; the composition
root hands in the factory that builds one from the site's settings (connectors).

A forward is idempotent per submission: the processor's calls carry keys derived from
the submission id, one forward runs at a time (a Redis lock), and once one has succeeded
another answers what it did rather than sending the card again. Only after success is
the CVV taken from the off-record store and, under `erase_after_forward`, the number and
expiry erased from the vault; a decline or failure keeps everything for a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert

from core import audit, notifications, outbox
from core.actors import FORWARD_PAYMENTS, Actor
from core.clock import utcnow
from core.errors import Conflict, DomainError, InvalidOrExpired, ValidationFailed
from core.forms.cards import card_brand_name
from core.forms.catalogue import load_version
from core.forwards import answer, forwarded
from core.locks import HeldLock
from core.payment_settings import processor_config
from core.runtime import Runtime
from core.schema import payment_forwards
from core.submissions import accessible, redeem_retrieve_otk
from vault import VaultError

LOCK_TTL_S = 60  # longer than two processor calls at their 15 s timeout


class PaymentDeclined(DomainError):
    status, code = 402, "payment_declined"
    default_message = "The processor declined the card; nothing was charged."


class ProcessorFailed(DomainError):
    status, code = 502, "processor_error"
    default_message = "The payment processor refused the request."


class ProcessorUnreachable(DomainError):
    status, code = 503, "processor_unreachable"
    default_message = "The payment processor could not be reached; nothing was lost. Retry."


class PaymentsNotConfigured(DomainError):
    status, code = 409, "payments_not_configured"
    default_message = "This site has no payment processor; an admin sets one up first."


class NoCardToForward(DomainError):
    status, code = 409, "no_card"
    default_message = "This submission holds no card number to forward."


@dataclass(frozen=True)
class Card:
    """The card for the length of one forward; never logged, never stored here."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str | None
    values: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Card(•••• {self.number[-4:]})"


class Outcome(Protocol):
    @property
    def kind(self) -> str: ...  # forwarded | declined | failed | unreachable
    @property
    def reason(self) -> str: ...  # in words, already scrubbed of card numbers
    @property
    def reference(self) -> str | None: ...
    @property
    def payment_intent(self) -> Mapping[str, str] | None: ...


class PaymentProcessor(Protocol):
    def forward(
        self,
        card: Card,
        *,
        amount: int | None,
        currency: str | None,
        description: str | None,
        idempotency_key: str,
    ) -> Outcome: ...


ProcessorFactory = Callable[[Mapping[str, Any]], PaymentProcessor]


@dataclass(frozen=True)
class Charge:
    amount: int | None = None
    currency: str | None = None
    description: str | None = None


def idempotency_key(submission_id: str) -> str:
    return f"secureforms-forward-{submission_id}"


def forward(
    rt: Runtime,
    actor: Actor,
    submission_id: str,
    otk: object,
    charge: Charge,
    *,
    connect: ProcessorFactory,
) -> dict[str, Any]:
    record = accessible(rt, actor, submission_id, FORWARD_PAYMENTS)
    with HeldLock(rt, f"forward:{actor.site_id}:{submission_id}", LOCK_TTL_S) as lock:
        if not lock.acquired:
            raise Conflict("This card is being forwarded already; wait for that answer.")
        redeem_retrieve_otk(rt, actor, submission_id, otk)
        done = forwarded(rt, actor.site_id, submission_id)
        if done is not None:
            return done  # sent before: the answer again, never the card a second time
        config = processor_config(rt, actor.site_id)
        if config is None:
            raise PaymentsNotConfigured()
        card, stored_fields = _card(rt, actor, record)
        outcome = connect(config).forward(
            card,
            amount=charge.amount,
            currency=charge.currency,
            description=charge.description,
            idempotency_key=idempotency_key(submission_id),
        )
        where = f"submission:{submission_id};conversation:{record.conversation_id}"
        if outcome.kind != "forwarded":
            raise _failure(outcome)  # audited at the edge, as form.forwarded's refusals are
        answer = _keep(rt, actor, submission_id, config["provider"], card, outcome)
        # The processor holds the card now: the CVV goes, and the rest under the policy.
        rt.off_record.take(actor.site_id, submission_id)
        if config.get("erase_after_forward", True):
            rt.vault.erase_fields(actor.site_id, submission_id, stored_fields)
        audit.record(
            rt,
            site_id=actor.site_id,
            type="form.forwarded",
            user_id=actor.user_id,
            resource=f"{where};processor={config['provider']};ref={outcome.reference}",
        )
        notifications.publish(
            rt,
            actor.site_id,
            record.agent_id,
            "secure_form.forwarded",
            {
                "request_id": record.request_id,
                "submission_id": submission_id,
                "processor": config["provider"],
                "payment_method": outcome.reference,
            },
        )
        return answer


def _card(rt: Runtime, actor: Actor, record: Any) -> tuple[Card, list[str]]:
    """The card from the vault (number, expiry) and the off-record store (CVV), and the
    stored fields it came from."""
    try:
        _, values = rt.vault.detokenize(actor.site_id, record.id)
    except VaultError:
        raise InvalidOrExpired() from None
    off_record = rt.off_record.peek(actor.site_id, record.id) if record.off_record_fields else {}
    definition = load_version(rt, actor.site_id, record.form_id, record.form_version)
    by_type: dict[str, str] = {}
    for spec in definition.fields:
        by_type.setdefault(spec.type, spec.name)
    number = values.get(by_type.get("card_number", ""))
    expiry = values.get(by_type.get("card_expiry", ""))
    if not number or not expiry:
        raise NoCardToForward()
    month, _, year = expiry.partition("/")
    cvc = off_record.get(by_type.get("cvv", "")) or values.get(by_type.get("cvv", "")) or None
    card = Card(number, int(month), 2000 + int(year), cvc, {**values, **off_record})
    return card, [by_type["card_number"], by_type["card_expiry"]]


def _failure(outcome: Outcome) -> DomainError:
    if outcome.kind == "declined":
        return PaymentDeclined(f"Declined: {outcome.reason}")
    if outcome.kind == "unreachable":
        return ProcessorUnreachable(f"{outcome.reason} Nothing was lost; retry.")
    return ProcessorFailed(f"The processor refused: {outcome.reason}")


def _keep(
    rt: Runtime, actor: Actor, submission_id: str, provider: str, card: Card, outcome: Outcome
) -> dict[str, Any]:
    intent = outcome.payment_intent
    row = {
        "submission_id": submission_id,
        "site_id": actor.site_id,
        "processor": provider,
        "reference": outcome.reference,
        "brand": card_brand_name(card.number),
        "last4": card.number[-4:],
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "payment_intent_id": intent["id"] if intent else None,
        "payment_intent_status": intent["status"] if intent else None,
        "created_at": utcnow(),
    }
    with rt.app_engine.begin() as conn:
        conn.execute(insert(payment_forwards).values(**row))
        outbox.emit_request(
            conn,
            actor.site_id,
            "secure_form.forwarded",
            submission_id=submission_id,
            processor=provider,
            payment_method=outcome.reference,
        )
    return answer(row)


def charge_from(amount: object, currency: object, description: object) -> Charge:
    """The optional charge of a forward request, or ValidationFailed naming each field."""
    problems: dict[str, str] = {}
    if amount is not None and not (
        isinstance(amount, int) and not isinstance(amount, bool) and 1 <= amount <= 99_999_999
    ):
        problems["amount"] = "Must be a whole number of the currency's smallest unit, 1 or more."
    if currency is not None and not (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
    ):
        problems["currency"] = "Must be a three-letter ISO 4217 code, such as usd."
    if amount is not None and currency is None:
        problems["currency"] = "Needed with an amount: a three-letter code, such as usd."
    if currency is not None and amount is None:
        problems["amount"] = "Needed with a currency."
    if description is not None and not (isinstance(description, str) and len(description) <= 500):
        problems["description"] = "Must be text of at most 500 characters."
    if problems:
        raise ValidationFailed("Some fields of the charge need fixing.", fields=problems)
    return Charge(
        amount if isinstance(amount, int) else None,
        currency.lower() if isinstance(currency, str) else None,
        description if isinstance(description, str) else None,
    )
