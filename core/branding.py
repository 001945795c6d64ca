"""A site's brand on the visitor pages: the name it goes by, its colour, help link and logo.

The visitor pages reach the colour through a stylesheet of CSS custom properties served
at a content-hashed URL (the CSP allows no inline style), and the logo the same way
(never a remote image): both can be cached for a year, since a change is a new URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update

from core import audit
from core.actors import Actor, Role
from core.brand_colour import AA_TEXT, is_hex_colour, nearest_passing, worst_contrast
from core.brand_logo import EXTENSIONS, InvalidBranding, Logo, reencode
from core.clock import utcnow
from core.errors import NotFound
from core.runtime import Runtime
from core.schema import site_brands, sites
from core.text import one_line

__all__ = ["Brand", "InvalidBranding", "get_brand", "logo_file", "update_brand"]

DEFAULT_COLOR = "#1d4ed8"  # api/static/app.css --primary
MAX_NAME = 80
MAX_URL = 2000


@dataclass(frozen=True)
class Brand:
    site_id: str
    display_name: str
    primary_color: str
    support_url: str | None
    logo_type: str | None
    logo_digest: str | None

    @property
    def stylesheet(self) -> str:
        # Only a checked `#rrggbb` ever reaches this text: nothing else can become CSS.
        return (
            f":root {{ --primary: {self.primary_color}; --primary-dark: {self.primary_color}; "
            f"--header: {self.primary_color}; --primary-soft: #ffffff; }}\n"
            ".button-primary:hover { filter: brightness(85%); }\n"
        )

    @property
    def stylesheet_url(self) -> str:
        digest = hashlib.sha256(self.stylesheet.encode()).hexdigest()[:16]
        return f"/brand/{self.site_id}/style-{digest}.css"

    @property
    def logo_url(self) -> str | None:
        if self.logo_type is None or self.logo_digest is None:
            return None
        return f"/brand/{self.site_id}/logo-{self.logo_digest}.{EXTENSIONS[self.logo_type]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "primary_color": self.primary_color,
            "support_url": self.support_url,
            "logo_url": self.logo_url,
            "stylesheet_url": self.stylesheet_url,
        }


def _row_to_brand(row: Any) -> Brand:
    return Brand(
        row.site_id,
        row.display_name,
        row.primary_color,
        row.support_url,
        row.logo_type,
        row.logo_digest,
    )


def get_brand(rt: Runtime, site_id: str) -> Brand | None:
    """The brand a site has set, or None (its visitor pages keep the product's look)."""
    with rt.app_engine.connect() as conn:
        row = conn.execute(select(site_brands).where(site_brands.c.site_id == site_id)).first()
    return _row_to_brand(row) if row is not None else None


def brand_for_admin(rt: Runtime, actor: Actor) -> dict[str, Any]:
    """The brand as GET answers it; before any is set, what a first PUT starts from."""
    actor.require_role(Role.ADMIN)
    brand = get_brand(rt, actor.site_id)
    if brand is not None:
        return {**brand.to_json(), "configured": True}
    with rt.app_engine.connect() as conn:
        name = conn.execute(select(sites.c.name).where(sites.c.id == actor.site_id)).scalar()
    if name is None:
        raise NotFound()
    return {
        "display_name": name[:MAX_NAME],
        "primary_color": DEFAULT_COLOR,
        "support_url": None,
        "logo_url": None,
        "stylesheet_url": None,
        "configured": False,
    }


def logo_file(rt: Runtime, site_id: str, digest: str) -> Logo | None:
    """The logo stored under this digest, or None: an old URL never serves a new logo."""
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(site_brands.c.logo, site_brands.c.logo_type).where(
                site_brands.c.site_id == site_id, site_brands.c.logo_digest == digest
            )
        ).first()
    if row is None or row.logo is None or row.logo_type is None:
        return None
    return Logo(bytes(row.logo), row.logo_type, 0, 0)


def _check_name(value: str) -> str:
    name = value.strip()
    if not 1 <= len(name) <= MAX_NAME or not one_line(name):
        raise InvalidBranding(
            "display_name must be 1 to 80 characters on one line.",
            fields={"display_name": "From 1 to 80 characters, on one line."},
        )
    return name


def _check_colour(value: str) -> str:
    if not is_hex_colour(value):
        raise InvalidBranding(
            "primary_color must be #rrggbb.",
            fields={"primary_color": "A colour as #rrggbb, such as #1d4ed8."},
        )
    ratio = worst_contrast(value)
    if ratio < AA_TEXT:
        nearest = nearest_passing(value)
        reason = (
            f"{value} has a contrast of {ratio:.2f}:1 with white; WCAG AA needs {AA_TEXT}:1 "
            f"for white text on it and for it on white. The nearest colour that passes is "
            f"{nearest}."
        )
        raise InvalidBranding(reason, fields={"primary_color": reason})
    return value.lower()


def _check_url(value: str) -> str | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if (
        len(value) > MAX_URL
        or not one_line(value)
        or " " in value
        or parts.scheme != "https"
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
    ):
        raise InvalidBranding(
            "support_url must be an https URL.",
            fields={"support_url": 'An https:// address with a host, or "" for none.'},
        )
    return value


def _decode_logo(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBranding(
            "logo must be base64.", fields={"logo": 'The image file in base64, or "".'}
        ) from None


def update_brand(rt: Runtime, actor: Actor, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply an admin's changes (fields left out keep their value; "" clears the support
    link or the logo), all checked before anything is written, and audit them."""
    actor.require_role(Role.ADMIN)
    values: dict[str, Any] = {}
    if "display_name" in changes:
        values["display_name"] = _check_name(changes["display_name"])
    if "primary_color" in changes:
        values["primary_color"] = _check_colour(changes["primary_color"])
    if "support_url" in changes:
        values["support_url"] = _check_url(changes["support_url"])
    if "logo" in changes:
        raw = changes["logo"]
        logo = reencode(_decode_logo(raw)) if raw != "" else None
        values["logo"] = logo.data if logo else None
        values["logo_type"] = logo.media_type if logo else None
        values["logo_digest"] = hashlib.sha256(logo.data).hexdigest()[:16] if logo else None
    current = brand_for_admin(rt, actor)
    with rt.app_engine.begin() as conn:
        # The site row's lock first (as core.policies does): two admins' first PUTs can't
        # both insert, and neither starts from the other's stale row.
        conn.execute(update(sites).where(sites.c.id == actor.site_id).values(name=sites.c.name))
        configured = conn.execute(
            select(site_brands.c.site_id).where(site_brands.c.site_id == actor.site_id)
        ).first()
        if configured is not None:
            conn.execute(
                update(site_brands)
                .where(site_brands.c.site_id == actor.site_id)
                .values(**values, updated_at=utcnow())
            )
        else:
            conn.execute(
                insert(site_brands).values(
                    site_id=actor.site_id,
                    display_name=values.get("display_name", current["display_name"]),
                    primary_color=values.get("primary_color", current["primary_color"]),
                    support_url=values.get("support_url"),
                    logo=values.get("logo"),
                    logo_type=values.get("logo_type"),
                    logo_digest=values.get("logo_digest"),
                    updated_at=utcnow(),
                )
            )
        audit.record(
            rt,
            site_id=actor.site_id,
            type="site.branding_changed",
            user_id=actor.user_id,
            resource="branding:" + ",".join(sorted(k for k in values if k != "logo_type")),
            conn=conn,
        )
    return brand_for_admin(rt, actor)
