"""Who is calling: a user with a role and the permissions of their profile, or a site's key.

Every core function that touches site data takes an Actor, and every query it makes is
scoped by `actor.site_id`; there is no code path that means "all sites". Permissions come
from the user's profile (core.profiles), resolved at log-in and kept in the session, so
checking them costs nothing per request; a profile change rewrites the live sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Forbidden

USE_SECURE_FORMS = "secure_forms.use"
VIEW_HISTORY = "secure_forms.view_history"
# Hand a submitted card to the site's payment processor; independent of reveal, so an
# agent may forward cards they can never see.
FORWARD_PAYMENTS = "secure_forms.forward_payments"
PERMISSIONS = (USE_SECURE_FORMS, VIEW_HISTORY, FORWARD_PAYMENTS)

USER_ROLES = ("agent", "manager", "admin")
SITE_KEY = "site_key"

# What a role's default profile grants (and the most a profile of that role may grant).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({USE_SECURE_FORMS}),
    "manager": frozenset(),
    "admin": frozenset(),
    SITE_KEY: frozenset(),
}
ASSIGNABLE: dict[str, frozenset[str]] = {
    "agent": frozenset({USE_SECURE_FORMS, FORWARD_PAYMENTS}),
    "manager": frozenset({VIEW_HISTORY}),
    "admin": frozenset(),
}


@dataclass(frozen=True)
class Actor:
    site_id: str
    role: str  # agent | manager | admin | site_key
    user_id: str | None = None
    session_id: str | None = None
    display_name: str | None = None
    permissions: frozenset[str] = frozenset()
    mfa_enabled: bool = False

    def __post_init__(self) -> None:
        if not self.site_id:
            raise ValueError("an actor always belongs to exactly one site")

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

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden()
