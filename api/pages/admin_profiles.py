"""The console's profiles: named sets of permissions within a role.

GET  /admin/profiles         the site's profiles and the form to create one
POST /admin/profiles         creates a profile
GET  /admin/profiles/{id}    one profile: its name and permissions (its role is fixed)
POST /admin/profiles/{id}    saves them; its users' live sessions follow at once
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, ticked, valid_id
from api.pages.session import ROLE_NAMES
from api.pages.web import page
from core import profiles
from core.actors import (
    ASSIGNABLE,
    FORWARD_PAYMENTS,
    PERMISSIONS,
    USE_SECURE_FORMS,
    USER_ROLES,
    VIEW_HISTORY,
    Actor,
    Role,
)
from core.errors import DomainError
from core.runtime import Runtime

SECTION = "/admin/profiles"
PERMISSION_TEXT = {
    USE_SECURE_FORMS: (
        "Send secure forms",
        "Agents only: send forms in their chats and read the answers sent back to them.",
    ),
    VIEW_HISTORY: (
        "View engagement history",
        "Managers only: read the stored answers of past conversations (never the "
        "off-the-record ones). Every reveal is audited.",
    ),
    FORWARD_PAYMENTS: (
        "Forward payment details",
        "Agents only: send a submitted card to the site's payment processor, seeing only "
        "its brand and last four. Independent of reading answers.",
    ),
}


def _box_id(permission: str) -> str:
    return "perm-" + permission.replace(".", "-").replace("_", "-")


def _permission_boxes(granted: Any, roles: tuple[Role, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": _box_id(p),
            "name": f"perm:{p}",
            "code": p,
            "label": PERMISSION_TEXT[p][0],
            "hint": PERMISSION_TEXT[p][1],
            "checked": p in granted,
        }
        for p in PERMISSIONS
        if any(p in ASSIGNABLE[r] for r in roles)
    ]


def _posted_permissions(posted: Mapping[str, str]) -> list[str]:
    return [p for p in PERMISSIONS if ticked(posted, f"perm:{p}")]


def _anchor(key: str) -> str:
    if key == "permissions":
        return "#" + _box_id(PERMISSIONS[0])
    return f"#profile-{key}"


def _list_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    *,
    entered: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    entered = entered or {"name": "", "role": "", "permissions": []}
    errors = errors or {}
    rows = [
        {
            **p,
            "role_name": ROLE_NAMES.get(p["role"], p["role"]),
            "granted": [PERMISSION_TEXT.get(x, (x,))[0] for x in p["permissions"]],
        }
        for p in profiles.list_profiles(rt, actor)
    ]
    return console_page(
        request,
        rt,
        actor,
        "admin_profiles.html",
        section=SECTION,
        status_code=status_code,
        profiles=rows,
        roles=[(r, ROLE_NAMES[r]) for r in USER_ROLES],
        boxes=_permission_boxes(entered["permissions"], USER_ROLES),
        entered=entered,
        errors=errors,
        summary=error_summary(errors, _anchor),
    )


@page
@console_get(ADMIN)
def list_profiles(request: Request, rt: Runtime, actor: Actor) -> Response:
    return _list_page(request, rt, actor)


@page
@console_post(ADMIN)
def create_profile(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    entered = {
        "name": text(posted, "name"),
        "role": text(posted, "role"),
        "permissions": _posted_permissions(posted),
    }
    errors = {}
    if not entered["name"]:
        errors["name"] = "Enter a name for the profile."
    if entered["role"] not in USER_ROLES:
        errors["role"] = "Choose the role the profile is for."
    if errors:
        return _list_page(request, rt, actor, entered=entered, errors=errors, status_code=422)
    try:
        profiles.create_profile(rt, actor, entered["name"], entered["role"], entered["permissions"])
    except DomainError as exc:
        errors = dict(exc.fields) if exc.fields else {"name": exc.message}
        return _list_page(
            request, rt, actor, entered=entered, errors=errors, status_code=exc.status
        )
    return done(SECTION, "profile_created")


def _profile_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    profile: dict[str, Any],
    *,
    entered: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    entered = entered or {"name": profile["name"], "permissions": profile["permissions"]}
    errors = errors or {}
    return console_page(
        request,
        rt,
        actor,
        "admin_profile.html",
        section=SECTION,
        status_code=status_code,
        profile=profile,
        role_name=ROLE_NAMES.get(profile["role"], profile["role"]),
        boxes=_permission_boxes(entered["permissions"], (profile["role"],)),
        entered=entered,
        errors=errors,
        summary=error_summary(errors, _anchor),
    )


@page
@console_get(ADMIN)
def profile_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    profile_id = valid_id(request.path_params["profile_id"])
    return _profile_page(request, rt, actor, profiles.get_profile(rt, actor, profile_id))


@page
@console_post(ADMIN)
def update_profile(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    profile_id = valid_id(request.path_params["profile_id"])
    profile = profiles.get_profile(rt, actor, profile_id)
    entered = {"name": text(posted, "name"), "permissions": _posted_permissions(posted)}
    if not entered["name"]:
        errors = {"name": "Enter a name for the profile."}
        return _profile_page(
            request, rt, actor, profile, entered=entered, errors=errors, status_code=422
        )
    try:
        profiles.update_profile(rt, actor, profile_id, entered)
    except DomainError as exc:
        errors = dict(exc.fields) if exc.fields else {"name": exc.message}
        return _profile_page(
            request, rt, actor, profile, entered=entered, errors=errors, status_code=exc.status
        )
    return done(f"{SECTION}/{profile_id}", "profile_saved")
