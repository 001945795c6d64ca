"""Secure form definitions (admin), readable by every user of the site; shipped templates;
export and import of a definition as a JSON document."""

from __future__ import annotations

from typing import Any

from api.answers import or_empty
from api.bodies import field
from api.endpoints import ADMIN, ANY_BODY, Ctx
from api.errors import ApiError
from api.routes import registry
from core.forms import catalogue
from core.forms.templates import describe_templates

_FLAGS = {"true": True, "false": False}


@registry.route(
    "POST",
    "/api/v1/forms",
    status=201,
    body=ANY_BODY,
    tag="forms",
    responses={403: "forbidden", 409: "conflict", 422: "validation_failed"},
    roles=ADMIN,
)
def create_form(ctx: Ctx) -> dict[str, Any]:
    """Create a secure form definition."""
    return catalogue.create_form(ctx.rt, ctx.user, ctx.body)


@registry.route(
    "GET",
    "/api/v1/forms",
    tag="forms",
    query={"include_archived": or_empty({"type": "boolean"})},  # empty: false
    summary="List the site's forms (agents pick from these); ?include_archived=true adds "
    "the archived ones.",
)
def list_forms(ctx: Ctx) -> dict[str, Any]:
    """List the site's forms."""
    raw = ctx.query("include_archived", "false") or "false"
    if raw not in _FLAGS:
        raise ApiError(
            422,
            "invalid_query",
            "include_archived must be true or false.",
            fields={"include_archived": "Use true or false."},
        )
    return {"forms": catalogue.list_forms(ctx.rt, ctx.user, include_archived=_FLAGS[raw])}


@registry.route("GET", "/api/v1/forms/{form_id}", tag="forms", responses={404: "not_found"})
def get_form(ctx: Ctx) -> dict[str, Any]:
    """One form's current version."""
    return catalogue.get_form(ctx.rt, ctx.user, ctx.path["form_id"])


@registry.route(
    "PUT",
    "/api/v1/forms/{form_id}",
    body=ANY_BODY,
    tag="forms",
    responses={403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"},
    roles=ADMIN,
)
def update_form(ctx: Ctx) -> dict[str, Any]:
    """Replace a form's definition: makes a new version; requests already sent keep theirs."""
    return catalogue.update_form(ctx.rt, ctx.user, ctx.path["form_id"], ctx.body)


@registry.route(
    "DELETE",
    "/api/v1/forms/{form_id}",
    tag="forms",
    responses={403: "forbidden", 404: "not_found"},
    roles=ADMIN,
)
def archive_form(ctx: Ctx) -> dict[str, Any]:
    """Archive a form: no new requests; outstanding ones still work."""
    return catalogue.archive_form(ctx.rt, ctx.user, ctx.path["form_id"])


@registry.route(
    "GET",
    "/api/v1/forms/{form_id}/export",
    tag="forms",
    responses={403: "forbidden", 404: "not_found"},
    summary='Export a form\'s current version as {"format": "secureforms.form", '
    '"format_version": 1, "exported_at", "source": {"form_id", "version"}, "definition"}.',
    roles=ADMIN,
)
def export_form(ctx: Ctx) -> dict[str, Any]:
    """Export a form's current version as a JSON document."""
    return catalogue.export_form(ctx.rt, ctx.user, ctx.path["form_id"])


@registry.route(
    "POST",
    "/api/v1/forms/import",
    status=201,
    body=ANY_BODY,
    tag="forms",
    responses={403: "forbidden", 409: "conflict", 422: "validation_failed"},
    summary="Create a form from an export document (the answer of GET "
    '/api/v1/forms/{form_id}/export, from any site): 201 {"id", "version"}.',
    roles=ADMIN,
)
def import_form(ctx: Ctx) -> dict[str, Any]:
    """Create a form from an export document."""
    return catalogue.import_form(ctx.rt, ctx.user, ctx.body)


@registry.route(
    "GET",
    "/api/v1/form-templates",
    tag="forms",
    summary='The forms shipped with the product, {"templates": [definition, ...]}: payment '
    "card, identity verification, bank account and address change.",
)
def list_templates(ctx: Ctx) -> dict[str, Any]:
    """The forms shipped with the product."""
    return {"templates": describe_templates()}


@registry.route(
    "POST",
    "/api/v1/forms/from-template/{template}",
    status=201,
    body={"name": field(str, max_length=64), "title": field(str, max_length=200)},
    tag="forms",
    responses={403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"},
    summary="Create a form of the site from a shipped template, optionally with another "
    'name and title (to install one twice): 201 {"id", "version"}.',
    roles=ADMIN,
)
def create_from_template(ctx: Ctx) -> dict[str, Any]:
    """Create a form from a shipped template."""
    return catalogue.from_template(ctx.rt, ctx.user, ctx.path["template"], ctx.body)
