"""The demo site that `secureforms demo seed` makes in development: one admin, two agents
and a "Payment card" form, with log-ins printed for the person trying it out."""

from __future__ import annotations

from typing import Any

from core import users
from core.actors import Actor, Role
from core.forms import catalogue
from core.runtime import Runtime
from core.sites import create_site, find_site_by_name

DEMO_SITE = "Demo"
DEMO_USERS = {
    "admin": ("admin", "demo-admin-pass-1", "Demo Admin"),
    "alice": ("agent", "demo-alice-pass-1", "Alice (agent)"),
    "bob": ("agent", "demo-bob-pass-1", "Bob (agent)"),
}
# The shipped template, so the demo shows what a new site is offered.
PAYMENT_CARD_TEMPLATE = "payment_card"


def seed(rt: Runtime) -> dict[str, Any]:
    site_id = find_site_by_name(rt, DEMO_SITE)
    if site_id is None:
        password = DEMO_USERS["admin"][1]
        site_id = create_site(rt, DEMO_SITE, "admin", password)["site_id"]
    admin = Actor(site_id=site_id, role=Role.ADMIN, user_id="seed")
    existing = {u["username"] for u in users.list_users(rt, admin)}
    for username, (role, password, display) in DEMO_USERS.items():
        if username not in existing:
            users.create_user(rt, site_id, username, password, role, display_name=display)
    if not any(f["name"] == PAYMENT_CARD_TEMPLATE for f in catalogue.list_forms(rt, admin)):
        catalogue.from_template(rt, admin, PAYMENT_CARD_TEMPLATE, {})
    return {
        "site_id": site_id,
        "logins": {u: p for u, (_r, p, _d) in DEMO_USERS.items()},
    }


def login_help(rt: Runtime, base_url: str) -> str:
    """What to type to try the demo, or how to make it."""
    site_id = find_site_by_name(rt, DEMO_SITE)
    if site_id is None:
        return "No demo site yet: run `secureforms demo seed` (development only)."
    lines = [
        f"Demo site id: {site_id}",
        f"  sign in:      {base_url}/login  (agents go to /agent, the admin to /admin)",
        f"  visitor chat: {base_url}/chat",
        f"  API log-in:   POST {base_url}/api/v1/auth/login",
    ]
    for username, (role, password, _display) in DEMO_USERS.items():
        lines.append(f"  {role:<6} {username:<6} password {password}")
    return "\n".join(lines)
