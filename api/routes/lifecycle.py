"""Erasure on request (admin)."""

from __future__ import annotations

from api.endpoints import ADMIN, Ctx
from api.routes import registry
from core import lifecycle


@registry.route(
    "DELETE",
    "/api/v1/conversations/{conversation_id}/secure-forms",
    tag="lifecycle",
    responses={403: "forbidden", 404: "not_found"},
    roles=ADMIN,
)
def erase(ctx: Ctx) -> dict[str, int]:
    """Erase every secure form submission of a conversation now (audited)."""
    return lifecycle.erase_for_admin(ctx.rt, ctx.user, ctx.path["conversation_id"])
