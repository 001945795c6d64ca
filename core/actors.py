"""Who is calling: a user with a role and the permissions of their profile, or a site's key.

Every core function that touches site data takes an Actor, and every query it makes is
scoped by `actor.site_id`; there is no code path that means "all sites". Permissions come
from the user's profile (core.profiles), resolved at log-in and kept in the session, so
checking them costs nothing per request; a profile change rewrites the live sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import Forbidden

USE_SECURE_FORMS = "secure_forms.use"
VIEW_HISTORY = "secure_forms.view_history"
# Hand a submitted card to the site's payment processor; independent of reveal, so an
# agent may forward cards they can never see.
FORWARD_PAYMENTS = "secure_forms.forward_payments"
PERMISSIONS = (USE_SECURE_FORMS, VIEW_HISTORY, FORWARD_PAYMENTS)


class Role(StrEnum):
    """Who an actor is. A StrEnum, so the DB, sessions and JSON keep the plain strings."""

    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"
    SITE_KEY = "site_key"  # a chat platform calling with the site's API key, not a user


class Scope(StrEnum):
    """What a site API key may do (core.api_keys); a key holds one or more.

    `conversations`: manage conversations, as every key could before scopes existed;
    `secure_forms`: send a secure form for a named agent and read its status;
    `webhooks`: manage the site's webhooks. No scope reveals, reads history, or manages
    users, forms or policies: those stay with people.
    """

    CONVERSATIONS = "conversations"
    SECURE_FORMS = "secure_forms"
    WEBHOOKS = "webhooks"


SCOPES: tuple[Scope, ...] = tuple(Scope)
USER_ROLES: tuple[Role, ...] = (Role.AGENT, Role.MANAGER, Role.ADMIN)
SITE_KEY = Role.SITE_KEY
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})

# What a role's default profile grants (and the most a profile of that role may grant).
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.AGENT: frozenset({USE_SECURE_FORMS}),
    Role.MANAGER: frozenset(),
    Role.ADMIN: frozenset(),
    Role.SITE_KEY: frozenset(),
}
ASSIGNABLE: dict[Role, frozenset[str]] = {
    Role.AGENT: frozenset({USE_SECURE_FORMS, FORWARD_PAYMENTS}),
    Role.MANAGER: frozenset({VIEW_HISTORY}),
    Role.ADMIN: frozenset(),
}


def user_role(value: object) -> Role | None:
    """The user role a stored or posted string names, or None (a site key is no user)."""
    return next((r for r in USER_ROLES if r == value), None)


@dataclass(frozen=True)
class Actor:
    site_id: str
    role: Role
    user_id: str | None = None
    session_id: str | None = None
    display_name: str | None = None
    permissions: frozenset[str] = frozenset()
    mfa_enabled: bool = False
    # Set when an admin chose the password (a new user, a reset): until the user picks
    # their own, they reach nothing but the password change and sign-out.
    must_change_password: bool = False
    # A site key's own id, name and scopes (core.api_keys); None and empty for a user.
    key_id: str | None = None
    key_name: str | None = None
    scopes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.site_id:
            raise ValueError("an actor always belongs to exactly one site")
        # Rows and sessions hand in the stored string; it must name a role (ValueError).
        object.__setattr__(self, "role", Role(self.role))

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    @property
    def label(self) -> str:
        """How this actor appears as a transcript author."""
        if self.user_id is None:
            return "bot"
        return self.display_name or "agent"

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden()

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden()
