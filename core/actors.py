"""Who is calling: a user with a role and permissions, or a site's API key.

Every core function that touches site data takes an Actor, and every query it makes is
scoped by `actor.site_id`; there is no code path that means "all sites".
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Forbidden

USE_SECURE_FORMS = "secure_forms.use"
VIEW_HISTORY = "secure_forms.view_history"
MANAGE_SITE = "site.manage"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({USE_SECURE_FORMS}),
    "manager": frozenset(),
    "admin": frozenset({MANAGE_SITE}),
    "site_key": frozenset(),
}


@dataclass(frozen=True)
class Actor:
    site_id: str
    role: str  # agent | manager | admin | site_key
    user_id: str | None = None
    session_id: str | None = None
    display_name: str | None = None

    def __post_init__(self) -> None:
        if not self.site_id:
            raise ValueError("an actor always belongs to exactly one site")

    @property
    def permissions(self) -> frozenset[str]:
        return ROLE_PERMISSIONS.get(self.role, frozenset())

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
