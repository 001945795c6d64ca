"""Rendering pages: one Jinja2 environment (autoescaped), strict headers on every page.

The headers and CSP are the API's (api.middleware.security_headers); `frame-ancestors` is
'none' unless a site has allowed origins to embed its visitor form (a chat widget's iframe).
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
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from api import i18n
from api.middleware import security_headers

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
    extensions=["jinja2.ext.i18n"],
)
_env.globals["static_url"] = static_url
# Newstyle gettext: `{{ _("Hello %(name)s", name=x) }}` escapes `x` and fills it in after
# translation, in the language the page is rendered in (api.i18n.speaking).
_env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]


def ancestors(origins: Iterable[str]) -> str:
    """The CSP frame-ancestors value for an allow-list; anything not an origin is dropped
    (a `;` or a space in a stored policy must not become a directive of its own)."""
    allowed = [o.rstrip("/") for o in origins if isinstance(o, str) and _ORIGIN.fullmatch(o)]
    return " ".join(allowed) if allowed else "'none'"


def page_headers(frame_ancestors: Iterable[str] = ()) -> dict[str, str]:
    """The API's security headers (api.middleware), with this page's framing; never cached."""
    return {**security_headers(ancestors(frame_ancestors)), "Cache-Control": "no-store"}


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    frame_ancestors: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    language: str = i18n.DEFAULT,
    **context: Any,
) -> HTMLResponse:
    with i18n.speaking(language):
        html = _env.get_template(template).render(lang=i18n.current(), **context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={**page_headers(frame_ancestors), **(headers or {})},
    )


def fragment(template: str, language: str, **context: Any) -> Markup:
    """Part of a page rendered in another language than the page's (the editor's preview
    of the visitor's form); the page includes it as it is, so it is escaped here."""
    with i18n.speaking(language):
        return Markup(_env.get_template(template).render(lang=i18n.current(), **context))  # noqa: S704


def error_page(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    frame_ancestors: Iterable[str] = (),
    advice: str | None = None,
    brand: Mapping[str, Any] | None = None,
    language: str = i18n.DEFAULT,
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status_code=status,
        frame_ancestors=frame_ancestors,
        heading=heading,
        message=message,
        advice=advice,
        brand=brand,
        language=language,
    )
