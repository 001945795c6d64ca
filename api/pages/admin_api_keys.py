"""The console's site API keys: what chat platforms' and bots' back ends call with.

GET  /admin/api-keys                  the keys (name, scopes, made), and a form to make one
POST /admin/api-keys                  makes a key and shows it, once, on the answer itself
                                      (no redirect: the key is in no URL and no later page)
POST /admin/api-keys/{key_id}/delete  deletes one; it stops working with its next request

The answer that shows a key is `no-store` like every page (api.pages.render).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, ticked, when
from api.pages.web import page
from core import api_keys
from core.actors import SCOPES, Actor, Scope
from core.errors import DomainError
from core.runtime import Runtime

SECTION = "/admin/api-keys"
SCOPE_TEXT: dict[str, tuple[str, str]] = {
    Scope.CONVERSATIONS: (
        "Conversations",
        "Start, transfer and close conversations, post messages, read transcripts.",
    ),
    Scope.SECURE_FORMS: (
        "Secure forms",
        "Send a secure form for the conversation's agent and follow its status. "
        "Never the answers: only that agent can reveal them.",
    ),
    Scope.WEBHOOKS: ("Webhooks", "Manage the site's webhooks."),
}


def _box_id(scope: str) -> str:
    return "scope-" + scope.replace("_", "-")


def _anchor(key: str) -> str:
    return "#" + (_box_id(SCOPES[0]) if key == "scopes" else "key-name")


def _page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    *,
    entered: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    made: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    entered = entered or {"name": "", "scopes": [Scope.CONVERSATIONS]}
    errors = errors or {}
    keys = [
        {
            **k,
            "scope_names": [SCOPE_TEXT[s][0] for s in k["scopes"]],
            "made": when(k["created_at"]),
        }
        for k in api_keys.list_keys(rt, actor)
    ]
    boxes = [
        {
            "id": _box_id(s),
            "name": f"scope:{s}",
            "label": SCOPE_TEXT[s][0],
            "hint": SCOPE_TEXT[s][1],
            "checked": s in entered["scopes"],
        }
        for s in SCOPES
    ]
    return console_page(
        request,
        rt,
        actor,
        "admin_api_keys.html",
        section=SECTION,
        status_code=status_code,
        keys=keys,
        boxes=boxes,
        made=made,
        entered=entered,
        errors=errors,
        summary=error_summary(errors, _anchor),
    )


@page
@console_get(ADMIN)
def keys_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    return _page(request, rt, actor)


@page
@console_post(ADMIN)
def create_key(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    entered = {
        "name": text(posted, "name"),
        "scopes": [s for s in SCOPES if ticked(posted, f"scope:{s}")],
    }
    try:
        made = api_keys.create_key(rt, actor, entered["name"], entered["scopes"])
    except DomainError as exc:
        errors = dict(exc.fields or {"name": exc.message})
        return _page(request, rt, actor, entered=entered, errors=errors, status_code=exc.status)
    return _page(request, rt, actor, made=made, status_code=201)


@page
@console_post(ADMIN)
def delete_key(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    api_keys.delete_key(rt, actor, request.path_params["key_id"])
    return done(SECTION, "api_key_deleted")
