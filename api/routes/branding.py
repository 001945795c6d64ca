"""The site's brand on the visitor pages (core.branding)."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import ADMIN, Ctx
from api.routes import registry
from core import branding
from core.brand_logo import MAX_BYTES

# The logo's base64 (4 characters per 3 bytes, padded), then the body: that and the
# other fields, with room to spare. A logo one character longer is refused by name (422);
# only a body past MAX_BODY is refused whole (413).
MAX_LOGO_B64 = -(-MAX_BYTES // 3) * 4
MAX_BODY = MAX_LOGO_B64 + 16 * 1024


@registry.route("GET", "/api/v1/site/branding", tag="site", roles=ADMIN)
def get_branding(ctx: Ctx) -> dict[str, Any]:
    """The site's brand on the visitor pages (`configured` false until first set)."""
    return branding.brand_for_admin(ctx.rt, ctx.user)


@registry.route(
    "PUT",
    "/api/v1/site/branding",
    tag="site",
    roles=ADMIN,
    max_body=MAX_BODY,
    body={
        "display_name": field(str, max_length=200),
        "primary_color": field(str, max_length=7),
        "support_url": field(str, max_length=branding.MAX_URL),
        "logo": field(str, max_length=MAX_LOGO_B64),
    },
    responses={422: "invalid_branding"},
    summary="Set the brand (fields left out keep their value): display_name 1-80 characters, "
    "primary_color #rrggbb with WCAG AA contrast (4.5:1) for white text on it and for it on "
    "white (a failing colour is refused with its ratio and the nearest that passes), "
    'support_url https or "", logo a PNG, JPEG or WebP of at most 200 KB in base64 or "" '
    "(re-encoded without metadata, scaled to fit 512x512).",
)
def put_branding(ctx: Ctx) -> dict[str, Any]:
    """Set the site's brand."""
    changes = {k: v for k, v in ctx.body.items() if v is not None}
    return branding.update_brand(ctx.rt, ctx.user, changes)
