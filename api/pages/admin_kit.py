"""What every console page shares: who may see which section, the console's own nav,
notices after a redirect, error summaries, and reading posted fields. Who gets in at all
is admin_gate's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.pages.render import render
from api.pages.session import layout
from core.actors import VIEW_HISTORY, Actor, Role
from core.errors import NotFound
from core.runtime import Runtime
from core.text import is_id

ADMIN: str = Role.ADMIN  # a section's `need`: this role, or else a permission

# (path, label, who may use it: the admin role, or a profile permission)
SECTIONS = (
    ("/admin/forms", "Forms", ADMIN),
    ("/admin/users", "Users", ADMIN),
    ("/admin/profiles", "Profiles", ADMIN),
    ("/admin/policies", "Policies", ADMIN),
    ("/admin/branding", "Brand", ADMIN),
    ("/admin/payments", "Payments", ADMIN),
    ("/admin/api-keys", "API keys", ADMIN),
    ("/admin/webhooks", "Webhooks", ADMIN),
    ("/admin/audit", "Audit trail", ADMIN),
    ("/admin/history", "Engagement history", VIEW_HISTORY),
)

# What a redirect after a change says on the page it lands on: fixed texts only, so a
# query string can never put words of its own on the page.
NOTICES = {
    "form_created": "The form was created.",
    "form_saved": "Saved as a new version. Forms sent from now on use it; forms already "
    "sent keep the version they were sent with.",
    "form_archived": "The form was archived. Agents can no longer send it; links already "
    "sent still work.",
    "user_created": "The user was created.",
    "user_saved": "The user's details were saved.",
    "user_disabled": "The user was disabled and signed out everywhere.",
    "user_enabled": "The user was re-enabled and can sign in again.",
    "profile_created": "The profile was created.",
    "profile_saved": "The profile was saved. Its users' sessions follow at once.",
    "policies_saved": "The policies were saved.",
    "branding_saved": "The brand was saved. Visitor pages show it from now on.",
    "payments_saved": "The payment settings were saved.",
    "api_key_deleted": "The API key was deleted. It no longer works.",
    "webhook_deleted": "The webhook was removed; nothing more is sent to it.",
}


def may_use(actor: Actor, need: str) -> bool:
    return actor.role == ADMIN if need == ADMIN else need in actor.permissions


def console_nav(actor: Actor, current: str) -> list[dict[str, Any]]:
    # A manager always sees the history section, if only to learn what it needs.
    shown = [("/admin", "Overview")] + [
        (href, label)
        for href, label, need in SECTIONS
        if may_use(actor, need) or (need == VIEW_HISTORY and actor.role == Role.MANAGER)
    ]
    return [{"href": h, "label": label, "current": h == current} for h, label in shown]


def valid_id(value: str) -> str:
    """A path id as the stores may be asked for it; anything else names nothing."""
    if not is_id(value):
        raise NotFound()
    return value


def console_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    template: str,
    *,
    section: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    notice = NOTICES.get(request.query_params.get("done", "")) if request.method == "GET" else None
    return render(
        request,
        template,
        status_code=status_code,
        **layout(rt, actor, "/admin"),
        console_nav=console_nav(actor, section),
        notice=notice,
        **context,
    )


def done(path: str, notice: str) -> RedirectResponse:
    """The redirect after a change (POST-redirect-GET), naming the notice to show."""
    assert notice in NOTICES
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={notice}", status_code=303)


def error_summary(
    errors: Mapping[str, str], anchors: Callable[[str], str | None]
) -> list[dict[str, str | None]]:
    """The error summary's entries, each linking to its control when there is one."""
    return [{"message": message, "href": anchors(key)} for key, message in errors.items()]


def text(posted: Mapping[str, str], name: str) -> str:
    return posted.get(name, "").strip()


def ticked(posted: Mapping[str, str], name: str) -> bool:
    return name in posted


def when(value: str | None, *, seconds: bool = False) -> str:
    """An RFC 3339 time as people read it in a table: 2030-01-31 09:15 UTC."""
    if not value:
        return ""
    return value.replace("T", " ")[: 19 if seconds else 16] + " UTC"
