"""The console's users: list and create; one user's name, profile, and whether they may
sign in.

    GET  /admin/users                the site's users and the form to create one
    POST /admin/users                creates a user (the password never comes back)
    GET  /admin/users/{id}           one user
    POST /admin/users/{id}           display name and profile
    POST /admin/users/{id}/status    disable (signs them out everywhere) or re-enable
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, valid_id, when
from api.pages.session import ROLE_NAMES
from api.pages.web import page
from core import profiles, users
from core.actors import USER_ROLES, Actor
from core.errors import DomainError
from core.runtime import Runtime

SECTION = "/admin/users"
_LIMITS = {"username": 150, "display_name": 200, "password": 1024}


def _profiles_by_id(rt: Runtime, actor: Actor) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in profiles.list_profiles(rt, actor)}


def _list_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    *,
    entered: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    known = _profiles_by_id(rt, actor)
    rows = [
        {
            **u,
            "profile_name": known.get(u["profile_id"] or "", {}).get("name", "Role default"),
            "role_name": ROLE_NAMES.get(u["role"], u["role"]),
        }
        for u in users.list_users(rt, actor)
    ]
    errors = errors or {}
    return console_page(
        request,
        rt,
        actor,
        "admin_users.html",
        section=SECTION,
        status_code=status_code,
        users=rows,
        roles=[(r, ROLE_NAMES[r]) for r in USER_ROLES],
        profile_groups=_profile_groups(known.values()),
        entered=entered or {},
        errors=errors,
        summary=error_summary(errors, lambda key: f"#new-{key.replace('_', '-')}"),
    )


def _profile_groups(every: Any) -> list[dict[str, Any]]:
    return [
        {
            "label": f"{ROLE_NAMES[role]} profiles",
            "profiles": [p for p in every if p["role"] == role],
        }
        for role in USER_ROLES
    ]


@page
@console_get(ADMIN)
def list_users(request: Request, rt: Runtime, actor: Actor) -> Response:
    return _list_page(request, rt, actor)


def _too_long(posted: Mapping[str, str]) -> dict[str, str]:
    return {
        name: f"Use at most {limit} characters."
        for name, limit in _LIMITS.items()
        if len(posted.get(name, "")) > limit
    }


@page
@console_post(ADMIN)
def create_user(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    entered = {k: text(posted, k) for k in ("username", "display_name", "role", "profile_id")}
    errors = _too_long(posted)
    if not entered["username"]:
        errors.setdefault("username", "Enter a username.")
    if not posted.get("password"):
        errors.setdefault("password", "Enter a first password for them.")
    if entered["role"] not in USER_ROLES:
        errors["role"] = "Choose a role."
    if errors:
        return _list_page(request, rt, actor, entered=entered, errors=errors, status_code=422)
    try:
        users.create_user(
            rt,
            actor.site_id,
            entered["username"],
            posted["password"],
            entered["role"],
            display_name=entered["display_name"] or None,
            profile_id=entered["profile_id"] or None,
            by=actor.user_id,
            must_change_password=True,  # the admin knows it: changed at the first sign-in
        )
    except DomainError as exc:
        return _list_page(
            request,
            rt,
            actor,
            entered=entered,
            errors=_errors_of(exc, "username"),
            status_code=exc.status,
        )
    return done(SECTION, "user_created")


def _errors_of(exc: DomainError, default_key: str) -> dict[str, str]:
    if exc.fields:
        return dict(exc.fields)
    return {default_key: exc.message}


def _user_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    user_id: str,
    *,
    entered: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    user = users.get_user(rt, actor.site_id, user_id)
    choices = [p for p in profiles.list_profiles(rt, actor) if p["role"] == user["role"]]
    current = user["profile_id"] or next((p["id"] for p in choices if p["is_default"]), "")
    errors = errors or {}
    return console_page(
        request,
        rt,
        actor,
        "admin_user.html",
        section=SECTION,
        status_code=status_code,
        user=user,
        role_name=ROLE_NAMES.get(user["role"], user["role"]),
        created=when(user["created_at"]),
        choices=choices,
        current_profile=current,
        is_me=user_id == actor.user_id,
        entered=entered or {"display_name": user["display_name"] or "", "profile_id": current},
        errors=errors,
        summary=error_summary(
            errors, lambda key: "#status-button" if key == "enabled" else f"#user-{key}"
        ),
    )


@page
@console_get(ADMIN)
def user_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    user_id = valid_id(request.path_params["user_id"])
    return _user_page(request, rt, actor, user_id)


@page
@console_post(ADMIN)
def update_user(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    user_id = valid_id(request.path_params["user_id"])
    before = users.get_user(rt, actor.site_id, user_id)
    entered = {k: text(posted, k) for k in ("display_name", "profile_id")}
    errors = {k: v for k, v in _too_long(posted).items() if k == "display_name"}
    if errors:
        return _user_page(
            request, rt, actor, user_id, entered=entered, errors=errors, status_code=422
        )
    changes: dict[str, Any] = {}
    if entered["display_name"] != (before["display_name"] or ""):
        changes["display_name"] = entered["display_name"] or None
    if entered["profile_id"] and entered["profile_id"] != before["profile_id"]:
        changes["profile_id"] = entered["profile_id"]
    try:
        if changes:
            users.update_user(rt, actor, user_id, changes)
    except DomainError as exc:
        return _user_page(
            request,
            rt,
            actor,
            user_id,
            entered=entered,
            errors=_errors_of(exc, "display_name"),
            status_code=exc.status,
        )
    return done(f"{SECTION}/{user_id}", "user_saved")


@page
@console_post(ADMIN)
def set_status(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    user_id = valid_id(request.path_params["user_id"])
    wanted = posted.get("enabled")
    if wanted not in ("true", "false"):
        return _user_page(
            request,
            rt,
            actor,
            user_id,
            errors={"enabled": "Choose to disable or re-enable the user."},
            status_code=422,
        )
    enabled = wanted == "true"
    try:
        users.update_user(rt, actor, user_id, {"enabled": enabled})
    except DomainError as exc:
        return _user_page(
            request,
            rt,
            actor,
            user_id,
            errors={"enabled": exc.message},
            status_code=exc.status,
        )
    return done(f"{SECTION}/{user_id}", "user_enabled" if enabled else "user_disabled")
