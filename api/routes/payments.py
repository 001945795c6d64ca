"""A site's payment processor (admins) and forwarding a submitted card to it (agents)."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import ADMIN, ANY_BODY, Ctx
from api.routes import registry
from core import payment_settings, payments
from core.actors import FORWARD_PAYMENTS


@registry.route("GET", "/api/v1/site/payments", tag="site", roles=ADMIN)
def get_payments(ctx: Ctx) -> dict[str, Any]:
    """The site's payment processor: provider, base URL and the key's last 4 only."""
    return payment_settings.get_settings(ctx.rt, ctx.user)


@registry.route(
    "PUT",
    "/api/v1/site/payments",
    tag="site",
    roles=ADMIN,
    body=ANY_BODY,
    responses={422: "validation_failed"},
)
def put_payments(ctx: Ctx) -> dict[str, Any]:
    """Set the site's payment processor (Stripe or a generic HTTPS forward), sealed at rest."""
    return payment_settings.put_settings(ctx.rt, ctx.user, ctx.body)


@registry.route(
    "POST",
    "/api/v1/submissions/{submission_id}/forward",
    rate="otk",
    body={
        "otk": field(str, required=True, max_length=128),
        "amount": field(int),
        "currency": field(str, max_length=3),
        "description": field(str, max_length=500),
    },
    tag="secure forms",
    responses={
        402: "payment_declined",
        403: "forbidden",
        409: "conversation_closed, payments_not_configured or no_card",
        410: "invalid_or_expired",
        422: "validation_failed",
        502: "processor_error",
        503: "processor_unreachable",
    },
    permission=FORWARD_PAYMENTS,
    mfa=True,
    audit="form.forwarded",
)
def forward(ctx: Ctx) -> dict[str, Any]:
    """Send the card to the site's payment processor; the agent sees brand and last 4."""
    body = ctx.body
    charge = payments.charge_from(body.get("amount"), body.get("currency"), body.get("description"))
    return payments.forward(
        ctx.rt,
        ctx.user,
        ctx.path["submission_id"],
        body["otk"],
        charge,
        connect=ctx.services.payment_processor,
    )
