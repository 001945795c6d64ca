"""The console's brand page: how the visitor pages show this site.

GET  /admin/branding    the display name, colour and help link, and a preview of the header
POST /admin/branding    saves them all or none; a colour under WCAG AA is refused with its
                        ratio and the nearest colour that passes, as the API does

The logo is sent through PUT /api/v1/site/branding (base64): the console's forms are
urlencoded, and an upload is not worth a second body parser on every console post.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, text, ticked
from api.pages.web import page
from core import branding
from core.actors import Actor
from core.errors import DomainError
from core.runtime import Runtime

SECTION = "/admin/branding"
LABELS = {
    "display_name": "Name visitors see",
    "primary_color": "Brand colour",
    "support_url": "Help page for visitors",
    "logo": "Logo",
}


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
    said = {k: f"{LABELS.get(k, k)}: {m}" for k, m in errors.items()}
    return console_page(
        request,
        rt,
        actor,
        "admin_branding.html",
        section=SECTION,
        status_code=status_code,
        values=values,
        labels=LABELS,
        errors=errors,
        summary=error_summary(said, lambda key: f"#brand-{key}" if key in LABELS else None),
    )


@page
@console_get(ADMIN)
def branding_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    current = branding.brand_for_admin(rt, actor)
    return _page(request, rt, actor, {**current, "support_url": current["support_url"] or ""})


@page
@console_post(ADMIN)
def save_branding(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    changes = {name: text(posted, name) for name in ("display_name", "primary_color")}
    changes["support_url"] = text(posted, "support_url")
    if ticked(posted, "remove_logo"):
        changes["logo"] = ""
    try:
        branding.update_brand(rt, actor, changes)
    except DomainError as exc:
        current = branding.brand_for_admin(rt, actor)
        return _page(
            request,
            rt,
            actor,
            {**current, **changes},
            errors=dict(exc.fields or {"display_name": exc.message}),
            status_code=exc.status,
        )
    return done(SECTION, "branding_saved")
