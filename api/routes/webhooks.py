"""A site's signed webhooks (core.webhooks); deliveries run in the worker (core.outbox)."""

from __future__ import annotations

from typing import Any

from api.endpoints import ANY_BODY, USER_OR_KEY, Ctx
from api.routes import registry
from api.routes.admin import query_int
from core import webhooks
from core.actors import Role, Scope

# Who manages webhooks, declared once for every route below (core.webhooks.may_manage
# checks the same): admins, and site keys that hold the `webhooks` scope.
AUTH, MANAGERS, SCOPE = USER_OR_KEY, (Role.ADMIN, Role.SITE_KEY), Scope.WEBHOOKS


@registry.route(
    "POST",
    "/api/v1/webhooks",
    tag="webhooks",
    status=201,
    body=ANY_BODY,
    responses={422: "validation_failed"},
    summary='Register {"url", "events": [...]}; answers {"id", "secret"}: the signing '
    "secret, shown once.",
    auth=AUTH,
    roles=MANAGERS,
    scope=SCOPE,
)
def create_webhook(ctx: Ctx) -> dict[str, Any]:
    """Register a webhook."""
    return webhooks.create(ctx.rt, ctx.user, ctx.body, ctx.services.webhook_policy.check)


@registry.route("GET", "/api/v1/webhooks", tag="webhooks", auth=AUTH, roles=MANAGERS, scope=SCOPE)
def list_webhooks(ctx: Ctx) -> dict[str, Any]:
    """The site's webhooks (never a secret)."""
    return webhooks.list_webhooks(ctx.rt, ctx.user)


@registry.route(
    "DELETE",
    "/api/v1/webhooks/{webhook_id}",
    status=204,  # was documented as 200 while it answers 204 (found by the fuzz)
    tag="webhooks",
    responses={404: "not_found"},
    auth=AUTH,
    roles=MANAGERS,
    scope=SCOPE,
)
def delete_webhook(ctx: Ctx) -> None:
    """Remove a webhook and its undelivered events."""
    webhooks.delete_webhook(ctx.rt, ctx.user, ctx.path["webhook_id"])


@registry.route(
    "POST",
    "/api/v1/webhooks/{webhook_id}/rotate-secret",
    tag="webhooks",
    responses={404: "not_found"},
    summary='A new signing secret, shown once ({"id", "secret", "previous_secret_until"}); '
    "the old one signs beside it for 24 h.",
    auth=AUTH,
    roles=MANAGERS,
    scope=SCOPE,
)
def rotate_secret(ctx: Ctx) -> dict[str, Any]:
    """A new signing secret."""
    return webhooks.rotate_secret(ctx.rt, ctx.user, ctx.path["webhook_id"])


@registry.route(
    "GET",
    "/api/v1/webhooks/{webhook_id}/deliveries",
    tag="webhooks",
    responses={404: "not_found"},
    query={"limit": {"type": "integer", "minimum": 1, "maximum": webhooks.MAX_LISTED_ATTEMPTS}},
    summary="The latest delivery attempts, newest first: event, status, time, response "
    "code. ?limit=1..200 (default 100).",
    auth=AUTH,
    roles=MANAGERS,
    scope=SCOPE,
)
def list_deliveries(ctx: Ctx) -> dict[str, Any]:
    """The latest delivery attempts."""
    limit = query_int(ctx, "limit", 100, 1, webhooks.MAX_LISTED_ATTEMPTS)
    return webhooks.deliveries(ctx.rt, ctx.user, ctx.path["webhook_id"], limit)
