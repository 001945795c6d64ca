"""Log-in, log-out, MFA enrolment, password changes and the users of a site."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from api.auth import EVERY_SETUP, Setup
from api.auth import credentials as request_credentials
from api.bodies import field
from api.endpoints import ADMIN, ANY_USER, PUBLIC, Ctx
from api.errors import ApiError
from api.routes import registry
from core import credentials, logins, mfa, sessions, users
from core.actors import USER_ROLES

_PASSWORD = field(str, required=True, max_length=1024)


@registry.route(
    "POST",
    "/api/v1/auth/login",
    auth=PUBLIC,
    rate="login",
    tag="sessions",
    body={
        "site_id": field(str, required=True, max_length=64),
        "username": field(str, required=True, max_length=150),
        "password": _PASSWORD,
        "totp": field(str, max_length=16),
    },
    responses={
        401: "invalid_credentials or mfa_required",
        423: "account_disabled",
        429: "rate_limited",
    },
    summary="Log in; answers a bearer token. With MFA on, `totp` is the authenticator's "
    "code or one of the recovery codes (each works once).",
)
async def login(ctx: Ctx) -> dict[str, Any]:
    """Log in; answers a bearer token for the other endpoints."""
    b = ctx.body
    # Besides the caller's address (rate="login"): the account and the site it names.
    await ctx.services.limiter.check_login(b["site_id"], b["username"])
    result: dict[str, Any] = await run_in_threadpool(
        logins.log_in, ctx.rt, b["site_id"], b["username"], b["password"], b.get("totp")
    )
    return result


@registry.route(
    "POST",
    "/api/v1/auth/logout",
    status=204,
    tag="sessions",
    roles=ANY_USER,
    during_setup=EVERY_SETUP,
)
def logout(ctx: Ctx) -> None:
    """End this session."""
    token, _ = request_credentials(ctx.request, ctx.services.settings)
    assert token is not None
    sessions.end_session(ctx.rt, token)


@registry.route(
    "GET",
    "/api/v1/auth/me",
    tag="sessions",
    roles=ANY_USER,
    during_setup=EVERY_SETUP,
    summary="Who this session is: the user, their role, permissions and MFA state.",
)
def me(ctx: Ctx) -> dict[str, Any]:
    """Who this session is."""
    return users.whoami(ctx.rt, ctx.user)


@registry.route(
    "POST",
    "/api/v1/auth/password",
    status=204,
    rate="login",
    tag="sessions",
    roles=ANY_USER,
    during_setup=EVERY_SETUP,
    body={"current_password": _PASSWORD, "new_password": _PASSWORD},
    responses={403: "wrong_password", 422: "password_policy", 423: "account_disabled"},
    summary="Change your own password; every one of your sessions ends, this one included. "
    "Wrong current passwords count toward the failed-login limit.",
)
def change_password(ctx: Ctx) -> None:
    """Change your own password."""
    credentials.change_password(
        ctx.rt, ctx.user, ctx.body["current_password"], ctx.body["new_password"]
    )


_REAUTH = {403: "wrong_password", 409: "conflict", 423: "account_disabled"}


@registry.route(
    "POST",
    "/api/v1/auth/mfa/enroll",
    rate="login",
    tag="sessions",
    roles=ANY_USER,
    body={"current_password": _PASSWORD},
    during_setup=frozenset({Setup.MFA}),
    responses=_REAUTH,
    summary='Start MFA enrolment with your current password: {"secret", "otpauth_uri"} (TOTP, '
    "RFC 6238) for an authenticator app; nothing changes until /mfa/confirm. Wrong "
    "passwords count toward the failed-login limit.",
)
def mfa_enroll(ctx: Ctx) -> dict[str, str]:
    """Start MFA enrolment."""
    return mfa.enroll(ctx.rt, ctx.user, ctx.body["current_password"])


@registry.route(
    "POST",
    "/api/v1/auth/mfa/recovery-codes",
    rate="login",
    tag="sessions",
    roles=ANY_USER,
    body={"current_password": _PASSWORD},
    responses=_REAUTH,
    summary='New recovery codes with your current password: {"recovery_codes": [...]} (shown '
    "once); the earlier ones stop working. Wrong passwords count toward the failed-login limit.",
)
def mfa_recovery_codes(ctx: Ctx) -> dict[str, Any]:
    """Replace your MFA recovery codes."""
    return mfa.new_recovery_codes(ctx.rt, ctx.user, ctx.body["current_password"])


@registry.route(
    "POST",
    "/api/v1/auth/mfa/confirm",
    rate="login",
    tag="sessions",
    roles=ANY_USER,
    during_setup=frozenset({Setup.MFA}),
    body={"totp": field(str, required=True, max_length=16)},
    responses={409: "conflict", 422: "invalid_totp"},
    summary='Confirm MFA with a current code: {"recovery_codes": [...]} (shown once); from '
    "then on log-in needs `totp`.",
)
def mfa_confirm(ctx: Ctx) -> dict[str, Any]:
    """Confirm MFA enrolment."""
    return mfa.confirm(ctx.rt, ctx.user, ctx.body["totp"])


@registry.route(
    "POST",
    "/api/v1/users",
    status=201,
    tag="users",
    roles=ADMIN,
    body={
        "username": field(str, required=True, max_length=150),
        "password": _PASSWORD,
        "role": field(str, required=True),
        "display_name": field(str, max_length=200),
        "profile_id": field(str, max_length=64),
    },
    responses={409: "conflict", 422: "password_policy or invalid_profile"},
)
def create_user(ctx: Ctx) -> dict[str, str]:
    """Create a user on the admin's site."""
    b = ctx.body
    if b["role"] not in USER_ROLES:
        raise ApiError(
            422,
            "invalid_body",
            "Unknown role.",
            fields={"role": f"One of {', '.join(USER_ROLES)}."},
        )
    if not b["username"].strip():
        raise ApiError(422, "invalid_body", "Username is empty.", fields={"username": "Required."})
    user_id = users.create_user(
        ctx.rt,
        ctx.user.site_id,
        b["username"],
        b["password"],
        b["role"],
        display_name=b.get("display_name"),
        profile_id=b.get("profile_id"),
        by=ctx.user.user_id,
        must_change_password=True,  # the admin knows it: changed at the first sign-in
    )
    return {"id": user_id}


@registry.route("GET", "/api/v1/users", tag="users", roles=ADMIN)
def list_users(ctx: Ctx) -> dict[str, Any]:
    """List the users of the admin's site."""
    return {"users": users.list_users(ctx.rt, ctx.user)}


@registry.route(
    "GET", "/api/v1/users/{user_id}", tag="users", roles=ADMIN, responses={404: "not_found"}
)
def get_user(ctx: Ctx) -> dict[str, Any]:
    """One user of the admin's site."""
    return users.get_user(ctx.rt, ctx.user.site_id, ctx.path["user_id"])


@registry.route(
    "PATCH",
    "/api/v1/users/{user_id}",
    tag="users",
    roles=ADMIN,
    body={
        "enabled": field(bool),
        "profile_id": field(str, max_length=64),
        "display_name": field(str, max_length=200),
        "password": field(str, max_length=1024),
        "mfa_reset": field(bool),
    },
    responses={404: "not_found", 409: "conflict", 422: "password_policy or invalid_profile"},
    summary="Enable (after a lock-out) or disable a user, assign a profile, rename, reset the "
    "password or MFA. Disabling and resets end the user's sessions at once.",
)
def update_user(ctx: Ctx) -> dict[str, Any]:
    """Change a user."""
    changes = {k: v for k, v in ctx.body.items() if v is not None}
    return users.update_user(ctx.rt, ctx.user, ctx.path["user_id"], changes)
