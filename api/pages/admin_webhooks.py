"""The console's webhooks: where the site's events are POSTed, signed.

GET  /admin/webhooks                      the webhooks, each with its latest attempts, and
                                          a form to add one
POST /admin/webhooks                      adds one and shows its secret, this once
POST /admin/webhooks/{webhook_id}/rotate  a new secret, shown once (the old one signs too
                                          for 24 h)
POST /admin/webhooks/{webhook_id}/delete  removes it

The same core calls and URL rules as the JSON API (core.webhooks, the api's webhook policy).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, valid_id, when
from api.pages.web import page
from api.services import Services
from core import webhooks
from core.actors import Actor
from core.errors import DomainError
from core.outbox import EVENTS
from core.runtime import Runtime

SECTION = "/admin/webhooks"
SHOWN_ATTEMPTS = 5


def _page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    *,
    entered: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    secret: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    hooks = webhooks.list_webhooks(rt, actor)["webhooks"]
    for hook in hooks:
        hook["attempts"] = [
            {**a, "at": when(a["at"], seconds=True)}
            for a in webhooks.deliveries(rt, actor, hook["id"], SHOWN_ATTEMPTS)["deliveries"]
        ]
        hook["created_at"] = when(hook["created_at"])
        hook["previous_secret_until"] = when(hook["previous_secret_until"])
    labels = {"url": "Address", "events": "Events"}
    summary = {k: f"{labels.get(k, k)}: {m}" for k, m in errors.items()}
    return console_page(
        request,
        rt,
        actor,
        "admin_webhooks.html",
        section=SECTION,
        status_code=status_code,
        hooks=hooks,
        events=EVENTS,
        entered=entered or {"url": "", "events": list(EVENTS)},
        errors=errors,
        secret=secret,
        summary=error_summary(summary, lambda k: "#webhook-url" if k == "url" else "#events"),
    )


@page
@console_get(ADMIN)
def webhooks_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    return _page(request, rt, actor)


@page
@console_post(ADMIN)
def add_webhook(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    services: Services = request.app.state.services
    body = {"url": text(posted, "url"), "events": [e for e in EVENTS if f"event-{e}" in posted]}
    try:
        made = webhooks.create(rt, actor, body, services.webhook_policy.check)
    except DomainError as exc:
        errors = dict(exc.fields or {"url": exc.message})
        return _page(request, rt, actor, entered=body, errors=errors, status_code=exc.status)
    return _page(request, rt, actor, secret={"url": made["url"], "secret": made["secret"]})


@page
@console_post(ADMIN)
def rotate_secret(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    webhook_id = valid_id(request.path_params["webhook_id"])
    made = webhooks.rotate_secret(rt, actor, webhook_id)
    url = next(
        h["url"] for h in webhooks.list_webhooks(rt, actor)["webhooks"] if h["id"] == webhook_id
    )
    return _page(request, rt, actor, secret={"url": url, "secret": made["secret"]})


@page
@console_post(ADMIN)
def delete_webhook(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    webhooks.delete_webhook(rt, actor, valid_id(request.path_params["webhook_id"]))
    return done(SECTION, "webhook_deleted")
