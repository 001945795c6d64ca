"""Rendering pages: one Jinja2 environment (autoescaped), strict headers on every page.

A page's CSP allows our own scripts and styles only: no inline script, no `style=`
attribute, nothing from another origin. `frame-ancestors` is 'none' unless a site has
allowed origins to embed its visitor form (a chat widget's iframe).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

log = logging.getLogger("api.pages")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"

# An origin as CSP source expressions write it: scheme, host (maybe a leading *.), port.
_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


@cache
def _static_version(name: str) -> str:
    # Content hash in the URL: a new release is fetched at once, an old one cached freely.
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{name}?v={_static_version(name)}"


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["static_url"] = static_url


def ancestors(origins: Iterable[str]) -> str:
    """The CSP frame-ancestors value for an allow-list; anything not an origin is dropped
    (a `;` or a space in a stored policy must not become a directive of its own)."""
    allowed = [o.rstrip("/") for o in origins if isinstance(o, str) and _ORIGIN.fullmatch(o)]
    return " ".join(allowed) if allowed else "'none'"


def page_csp(frame_ancestors: Iterable[str] = ()) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; font-src 'self'; form-action 'self'; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors {ancestors(frame_ancestors)}"
    )


def page_headers(frame_ancestors: Iterable[str] = ()) -> dict[str, str]:
    csp = page_csp(frame_ancestors)
    headers = {
        "Content-Security-Policy": csp,
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    if csp.endswith("frame-ancestors 'none'"):
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    frame_ancestors: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={**page_headers(frame_ancestors), **(headers or {})},
    )


def error_page(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    frame_ancestors: Iterable[str] = (),
    advice: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status_code=status,
        frame_ancestors=frame_ancestors,
        heading=heading,
        message=message,
        advice=advice,
    )
