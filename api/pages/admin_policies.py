"""The console's account and data policies, each with the bounds it must keep and why.

GET  /admin/policies    every policy of the site, editable
POST /admin/policies    saves them all or none: core refuses a value outside its safe
                        bounds, and the page says which and why
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import i18n
from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, ticked
from api.pages.session import ROLE_NAMES
from api.pages.web import page
from core import policies
from core.actors import Actor
from core.errors import DomainError
from core.policies import (
    BOUNDS,
    IDLE_ACTIONS,
    MAX_FRAME_ANCESTORS,
    ORIGIN_LISTS,
    ROLES,
    TEST_LOWEST,
)
from core.runtime import Runtime

SECTION = "/admin/policies"
_WHOLE = re.compile(r"-?[0-9]{1,9}")

# name -> (label, unit, why the bounds are what they are)
NUMBERS: dict[str, tuple[str, str, str]] = {
    "password_min_length": (
        "Shortest password",
        "characters",
        "PCI DSS asks for at least 12 characters (7 only where a system can’t take more).",
    ),
    "failed_login_limit": (
        "Failed sign-ins before the account locks",
        "attempts",
        "PCI DSS allows at most 10. A locked account stays locked until an administrator "
        "re-enables it.",
    ),
    "idle_timeout_s": (
        "Sign out after this long idle",
        "seconds",
        "PCI DSS asks for a new sign-in after at most 15 minutes (900 seconds) idle.",
    ),
    "retention_days": (
        "Keep stored answers for",
        "days",
        "After this, the vault deletes them. The default, 395 days, is about 13 months.",
    ),
    "off_record_ttl_s": (
        "Off-the-record answers wait for the agent for",
        "seconds",
        "They are never stored: if the agent doesn’t look within this time, they are gone.",
    ),
    "link_opens": (
        "A visitor link opens at most",
        "times",
        "More than once lets a visitor reload or come back to a closed tab; at most 5. "
        "Once the form is submitted, the link opens no more.",
    ),
}
OTHER_LABELS = {
    "idle_action": "When the time is up",
    "mfa_required_roles": "Roles that must use two-step sign-in to reveal answers",
    "frame_ancestors": "Sites allowed to embed the visitor’s form",
    "agent_frame_ancestors": "Chat consoles allowed to show the agent’s panel",
    "default_language": "Default language of the visitor’s pages",
}


def _bounds(rt: Runtime) -> dict[str, tuple[int, int]]:
    test = rt.settings.env == "test"
    return {
        name: (TEST_LOWEST.get(name, low) if test else low, high)
        for name, (low, high) in BOUNDS.items()
    }


def _anchor(key: str) -> str | None:
    if key == "mfa_required_roles":
        return "#mfa-agent"
    return f"#policy-{key}" if key in NUMBERS or key in OTHER_LABELS else None


def _said(key: str, message: str) -> str:
    label = NUMBERS[key][0] if key in NUMBERS else OTHER_LABELS.get(key)
    return f"{label}: {message}" if label else message


def _page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    values: Mapping[str, Any],
    *,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    bounds = _bounds(rt)
    numbers = [
        {
            "name": name,
            "label": label,
            "value": values[name],
            "hint": f"From {bounds[name][0]} to {bounds[name][1]} {unit}. {why}",
        }
        for name, (label, unit, why) in NUMBERS.items()
    ]
    return console_page(
        request,
        rt,
        actor,
        "admin_policies.html",
        section=SECTION,
        status_code=status_code,
        numbers=numbers,
        values=values,
        labels=OTHER_LABELS,
        idle_actions=[(a, "Sign out" if a == "logout" else a) for a in IDLE_ACTIONS],
        roles=[(r, ROLE_NAMES[r]) for r in ROLES],
        max_origins=MAX_FRAME_ANCESTORS,
        languages=i18n.choices(),
        errors=errors,
        summary=error_summary({k: _said(k, m) for k, m in errors.items()}, _anchor),
    )


@page
@console_get(ADMIN)
def policies_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    current = policies.site_policies(rt, actor.site_id).to_json()
    return _page(request, rt, actor, _shown(current))


def _shown(current: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(current)
    for name in NUMBERS:
        shown[name] = str(current[name])
    for name in ORIGIN_LISTS:
        shown[name] = "\n".join(current[name])
    return shown


def _changes(posted: Mapping[str, str]) -> dict[str, Any]:
    """Every policy as posted; text that is no whole number goes to core as it is, and
    core names the problem. A number not posted at all (a page loaded before that policy
    existed) keeps its value."""
    changes: dict[str, Any] = {}
    for name in NUMBERS:
        if name not in posted:
            continue
        raw = text(posted, name)
        changes[name] = int(raw) if _WHOLE.fullmatch(raw) else raw
    changes["idle_action"] = text(posted, "idle_action")
    if "default_language" in posted:  # a page from before the policy leaves it as it is
        changes["default_language"] = text(posted, "default_language")
    changes["mfa_required_roles"] = [r for r in ROLES if ticked(posted, f"mfa:{r}")]
    for name in ORIGIN_LISTS:
        if name in posted or name == "frame_ancestors":
            changes[name] = [
                line.strip() for line in posted.get(name, "").splitlines() if line.strip()
            ]
    return changes


@page
@console_post(ADMIN)
def save_policies(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    changes = _changes(posted)
    try:
        policies.update_policies(rt, actor, changes)
    except DomainError as exc:
        entered = {
            **changes,
            **{name: text(posted, name) for name in NUMBERS},
            **{name: posted.get(name, "") for name in ORIGIN_LISTS},
            "default_language": posted.get("default_language", ""),
        }
        return _page(
            request,
            rt,
            actor,
            entered,
            errors=dict(exc.fields or {"policies": exc.message}),
            status_code=exc.status,
        )
    return done(SECTION, "policies_saved")
