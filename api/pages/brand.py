"""The site's brand as the visitor pages use it: its stylesheet and logo, and the view
the templates read.

    GET /brand/{site_id}/style-{digest}.css   the colour as CSS custom properties
    GET /brand/{site_id}/logo-{digest}.{ext}  the re-encoded logo

Both URLs name their content's hash, so they are cached for a year ("immutable"); a URL
whose hash is not the current content's answers 404 rather than other bytes.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.pages.web import services
from core import branding
from core.runtime import Runtime
from core.text import is_uuid

_NAME = re.compile(r"^(style|logo)-([0-9a-f]{16})\.(css|png|jpg|webp)$")
FOREVER = "public, max-age=31536000, immutable"


def brand_view(rt: Runtime, site_id: object) -> dict[str, Any] | None:
    """What base.html shows of a site's brand, or None (no site known, or none set)."""
    if not isinstance(site_id, str) or not is_uuid(site_id):
        return None
    brand = branding.get_brand(rt, site_id)
    if brand is None:
        return None
    return {**brand.to_json(), "display_name": brand.display_name}


def _not_found() -> Response:
    return Response(b"", status_code=404, headers={"Cache-Control": "no-store"})


async def asset(request: Request) -> Response:
    site_id = request.path_params["site_id"]
    found = _NAME.match(request.path_params["name"])
    if not is_uuid(site_id) or found is None:
        return _not_found()
    rt = services(request).rt
    kind, digest = found.group(1), found.group(2)
    if kind == "style":
        brand = await run_in_threadpool(branding.get_brand, rt, site_id)
        if brand is None or brand.stylesheet_url != request.url.path:
            return _not_found()
        return Response(brand.stylesheet, media_type="text/css", headers={"Cache-Control": FOREVER})
    logo = await run_in_threadpool(branding.logo_file, rt, site_id, digest)
    if logo is None:
        return _not_found()
    return Response(logo.data, media_type=logo.media_type, headers={"Cache-Control": FOREVER})
