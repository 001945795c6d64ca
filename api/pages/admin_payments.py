"""The console's payment processor: where agents' *Send to payment processor* goes.

GET  /admin/payments    what is set (provider, base URL, the key's last four, the erase
                        policy) and a form to set Stripe
POST /admin/payments    saves it or nothing: core names each bad field

The generic HTTPS forward (a JSON body template) is set through the API; the page shows
it when it is the one in use. A key typed here is never put back into the page.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, ticked
from api.pages.web import page
from core import payment_settings
from core.actors import Actor
from core.errors import DomainError
from core.runtime import Runtime

SECTION = "/admin/payments"
LABELS = {
    "secret_key": "Stripe secret key",
    "api_base": "Stripe API address (optional)",
    "erase_after_forward": "Erase the card number and expiry once the processor has the card",
    "provider": "Provider",
}


def _page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    entered: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    summary = {k: f"{LABELS.get(k, k)}: {m}" for k, m in errors.items()}
    return console_page(
        request,
        rt,
        actor,
        "admin_payments.html",
        section=SECTION,
        status_code=status_code,
        current=payment_settings.get_settings(rt, actor),
        entered=entered,
        errors=errors,
        summary=error_summary(summary, lambda k: f"#payments-{k}" if k in LABELS else None),
    )


@page
@console_get(ADMIN)
def payments_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    current = payment_settings.get_settings(rt, actor)
    entered = {
        "api_base": current["base_url"] if current.get("provider") == "stripe" else "",
        "erase_after_forward": current.get("erase_after_forward", True),
    }
    if entered["api_base"] == payment_settings.STRIPE_API:
        entered["api_base"] = ""
    return _page(request, rt, actor, entered)


@page
@console_post(ADMIN)
def save_payments(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    body: dict[str, Any] = {
        "provider": "stripe",
        "secret_key": text(posted, "secret_key"),
        "erase_after_forward": ticked(posted, "erase_after_forward"),
    }
    if text(posted, "api_base"):
        body["api_base"] = text(posted, "api_base")
    try:
        payment_settings.put_settings(rt, actor, body)
    except DomainError as exc:
        entered = {
            "api_base": text(posted, "api_base"),
            "erase_after_forward": body["erase_after_forward"],
        }
        errors = dict(exc.fields or {"provider": exc.message})
        return _page(request, rt, actor, entered, errors=errors, status_code=exc.status)
    return done(SECTION, "payments_saved")
