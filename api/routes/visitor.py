"""The visitor's side: no log-in, every step bound to a one-time key."""

from __future__ import annotations

from typing import Any

from api import i18n
from api.bodies import field
from api.endpoints import PUBLIC, Ctx
from api.metrics import counted_submit
from api.routes import registry
from core import form_requests

_OTK = field(str, required=True, max_length=128)


def visitor_api_language(ctx: Ctx) -> str:
    """The language of a visitor endpoint's messages: the body's `language` (the form page
    sends its own), then Accept-Language."""
    asked = ctx.body.get("language")
    accept = ctx.request.headers.get("accept-language")
    return i18n.choose(asked if isinstance(asked, str) else None, accept)


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
    body={
        "otk": _OTK,
        "values": field(dict, required=True),
        "language": field(str, max_length=16),
    },
    responses={410: "invalid_or_expired", 422: "validation_failed", 503: "unavailable"},
)
def submit(ctx: Ctx) -> dict[str, str]:
    """Submit the answers; 202 only once the queue has them."""
    with i18n.speaking(visitor_api_language(ctx)):  # the messages of a 422
        counted_submit(ctx.rt, ctx.services.publish, ctx.body["otk"], ctx.body["values"])
    return {"status": "accepted"}
