"""Engagement history: a manager with `secure_forms.view_history` reviews stored answers."""

from __future__ import annotations

from typing import Any

from api.endpoints import Ctx
from api.routes import registry
from core import history
from core.actors import VIEW_HISTORY


@registry.route(
    "GET",
    "/api/v1/conversations/{conversation_id}/secure-forms",
    tag="history",
    permission=VIEW_HISTORY,
    responses={404: "not_found"},
    summary='The secure forms a conversation collected: {"submissions": [{"submission_id", '
    '"form", "submitted_at", "agent_id", ...}]} (never a value), open or closed.',
)
def conversation_history(ctx: Ctx) -> dict[str, Any]:
    """The secure forms a conversation collected."""
    return history.conversation_history(ctx.rt, ctx.user, ctx.path["conversation_id"])


@registry.route(
    "POST",
    "/api/v1/submissions/{submission_id}/history-reveal",
    tag="history",
    permission=VIEW_HISTORY,
    mfa=True,
    audit="form.history_revealed",
    responses={404: "not_found"},
    summary='A submission\'s stored answers, {"values": {...}}: never the off-the-record '
    "ones; works after the conversation closed; every reveal is audited.",
)
def history_reveal(ctx: Ctx) -> dict[str, Any]:
    """A submission's stored answers."""
    return history.history_reveal(ctx.rt, ctx.user, ctx.path["submission_id"])
