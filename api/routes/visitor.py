"""The visitor's side: no log-in, every step bound to a one-time key."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import PUBLIC, Ctx
from api.metrics import counted_submit
from api.routes import registry
from core import form_requests

_OTK = field(str, required=True, max_length=128)


@registry.route(
    "POST",
    "/api/v1/visitor/open",
    auth=PUBLIC,
    rate="otk",
    body={"otk": _OTK},
    tag="visitor",
    responses={410: "invalid_or_expired"},
)
def open_form(ctx: Ctx) -> dict[str, Any]:
    """Spend the link's key; answers the form and a key to submit it."""
    return form_requests.open_request(ctx.rt, ctx.body["otk"])


@registry.route(
    "POST",
    "/api/v1/visitor/extend",
    auth=PUBLIC,
    rate="otk",
    body={"otk": _OTK},
    tag="visitor",
    responses={410: "invalid_or_expired"},
)
def extend(ctx: Ctx) -> dict[str, Any]:
    """More time to fill the form: a new submit key; the old one is spent."""
    return form_requests.extend(ctx.rt, ctx.body["otk"])


@registry.route(
    "POST",
    "/api/v1/visitor/submit",
    auth=PUBLIC,
    rate="otk",
    status=202,
    tag="visitor",
    body={"otk": _OTK, "values": field(dict, required=True)},
    responses={410: "invalid_or_expired", 422: "validation_failed", 503: "unavailable"},
)
def submit(ctx: Ctx) -> dict[str, str]:
    """Submit the answers; 202 only once the queue has them."""
    counted_submit(ctx.rt, ctx.services.publish, ctx.body["otk"], ctx.body["values"])
    return {"status": "accepted"}
