"""The site's API keys, for the admin: make one (shown once), list them, delete one."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import ADMIN, Ctx
from api.routes import registry
from core import api_keys
from core.actors import SCOPES

_SCOPES = ", ".join(SCOPES)


@registry.route(
    "GET",
    "/api/v1/site/api-keys",
    tag="api keys",
    roles=ADMIN,
    summary='The site\'s API keys: {"api_keys": [{"id", "name", "scopes", "created_at"}]} '
    "(never a key).",
)
def list_keys(ctx: Ctx) -> dict[str, Any]:
    """The site's API keys."""
    return {"api_keys": api_keys.list_keys(ctx.rt, ctx.user)}


@registry.route(
    "POST",
    "/api/v1/site/api-keys",
    status=201,
    tag="api keys",
    roles=ADMIN,
    body={"name": field(str, required=True, max_length=100), "scopes": field(list)},
    responses={422: "invalid_api_key"},
    summary=f"Make an API key with scopes ({_SCOPES}; default conversations): "
    '{"api_key", "id", "name", "scopes", "created_at"}; the key is shown only here.',
)
def create_key(ctx: Ctx) -> dict[str, Any]:
    """Make an API key."""
    scopes = ctx.body.get("scopes")
    if scopes is None:  # left out, or null: the body parser lets both through
        scopes = list(api_keys.DEFAULT_SCOPES)
    return api_keys.create_key(ctx.rt, ctx.user, ctx.body["name"], scopes)


@registry.route(
    "DELETE",
    "/api/v1/site/api-keys/{key_id}",
    status=204,  # was documented as 200 while it answers 204 (found by the fuzz)
    tag="api keys",
    roles=ADMIN,
    responses={404: "not_found"},
)
def delete_key(ctx: Ctx) -> None:
    """Delete an API key: the next request that presents it answers 401."""
    api_keys.delete_key(ctx.rt, ctx.user, ctx.path["key_id"])
