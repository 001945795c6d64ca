"""Log-in, log-out and the users of a site."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import Ctx
from api.errors import ApiError
from api.routes import registry
from core import sessions, users
from core.actors import Actor
from core.errors import InvalidCredentials
from core.passwords import verify_password
from core.policies import ROLES, site_policies


def _admin(ctx: Ctx) -> Actor:
    ctx.user.require_role("admin")
    return ctx.user


@registry.route(
    "POST",
    "/api/v1/auth/login",
    auth="public",
    rate="login",
    tag="sessions",
    body={
        "site_id": field(str, required=True, max_length=64),
        "username": field(str, required=True, max_length=150),
        "password": field(str, required=True, max_length=1024),
        "totp": field(str, max_length=16),
    },
    responses={401: "invalid_credentials", 423: "account_disabled", 429: "rate_limited"},
)
def login(ctx: Ctx) -> dict[str, Any]:
    """Log in; answers a bearer token for the other endpoints."""
    b = ctx.body
    try:
        policies = site_policies(ctx.rt, b["site_id"])
    except Exception:
        # An unknown site must look like any other failed log-in, and cost the same.
        verify_password(None, b["password"])
        raise InvalidCredentials() from None
    actor = users.authenticate(ctx.rt, b["site_id"], b["username"], b["password"])
    token = sessions.start_session(ctx.rt, actor, policies.idle_timeout_s)
    return {
        "token": token,
        "user": {"id": actor.user_id, "role": actor.role},
        "idle_timeout_s": policies.idle_timeout_s,
    }


@registry.route("POST", "/api/v1/auth/logout", status=204, tag="sessions")
def logout(ctx: Ctx) -> None:
    """End this session."""
    token = ctx.request.headers["authorization"].partition(" ")[2].strip()
    sessions.end_session(ctx.rt, token)


@registry.route(
    "POST",
    "/api/v1/users",
    status=201,
    tag="users",
    body={
        "username": field(str, required=True, max_length=150),
        "password": field(str, required=True, max_length=1024),
        "role": field(str, required=True),
        "display_name": field(str, max_length=200),
        "profile_id": field(str, max_length=64),
    },
    responses={409: "conflict", 422: "password_policy"},
)
def create_user(ctx: Ctx) -> dict[str, str]:
    """Create a user on the admin's site."""
    admin = _admin(ctx)
    b = ctx.body
    if b["role"] not in ROLES:
        raise ApiError(
            422, "invalid_body", "Unknown role.", fields={"role": f"One of {', '.join(ROLES)}."}
        )
    if not b["username"].strip():
        raise ApiError(422, "invalid_body", "Username is empty.", fields={"username": "Required."})
    user_id = users.create_user(
        ctx.rt,
        admin.site_id,
        b["username"],
        b["password"],
        b["role"],
        display_name=b.get("display_name"),
        profile_id=b.get("profile_id"),
    )
    return {"id": user_id}


@registry.route("GET", "/api/v1/users", tag="users")
def list_users(ctx: Ctx) -> dict[str, Any]:
    """List the users of the admin's site."""
    return {"users": users.list_users(ctx.rt, _admin(ctx))}


@registry.route(
    "PATCH",
    "/api/v1/users/{user_id}",
    tag="users",
    body={
        "enabled": field(bool),
        "profile_id": field(str, max_length=64),
        "display_name": field(str, max_length=200),
    },
)
def update_user(ctx: Ctx) -> dict[str, Any]:
    """Enable, disable or rename a user."""
    admin = _admin(ctx)
    changes = {k: v for k, v in ctx.body.items() if v is not None}
    return users.update_user(ctx.rt, admin, ctx.path["user_id"], changes)
