"""Secure form definitions (admin), readable by every user of the site."""

from __future__ import annotations

from typing import Any

from api.endpoints import ANY_BODY, Ctx
from api.routes import registry
from core.forms import catalogue


@registry.route(
    "POST",
    "/api/v1/forms",
    status=201,
    body=ANY_BODY,
    tag="forms",
    responses={409: "conflict", 422: "validation_failed"},
)
def create_form(ctx: Ctx) -> dict[str, Any]:
    """Create a secure form definition."""
    ctx.user.require_role("admin")
    return catalogue.create_form(ctx.rt, ctx.user, ctx.body)


@registry.route("GET", "/api/v1/forms", tag="forms")
def list_forms(ctx: Ctx) -> dict[str, Any]:
    """List the site's forms (agents pick from these)."""
    return {"forms": catalogue.list_forms(ctx.rt, ctx.user)}


@registry.route("GET", "/api/v1/forms/{form_id}", tag="forms")
def get_form(ctx: Ctx) -> dict[str, Any]:
    """One form's current version."""
    return catalogue.get_form(ctx.rt, ctx.user, ctx.path["form_id"])


@registry.route(
    "PUT",
    "/api/v1/forms/{form_id}",
    body=ANY_BODY,
    tag="forms",
    responses={422: "validation_failed"},
)
def update_form(ctx: Ctx) -> dict[str, Any]:
    """Replace a form's definition: makes a new version."""
    ctx.user.require_role("admin")
    return catalogue.update_form(ctx.rt, ctx.user, ctx.path["form_id"], ctx.body)


@registry.route("DELETE", "/api/v1/forms/{form_id}", tag="forms")
def archive_form(ctx: Ctx) -> dict[str, Any]:
    """Archive a form: no new requests; outstanding ones still work."""
    ctx.user.require_role("admin")
    return catalogue.archive_form(ctx.rt, ctx.user, ctx.path["form_id"])
