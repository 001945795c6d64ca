"""Who sends a secure form, and for whom: an agent for themselves, or a chat platform's
or bot's site key (scope `secure_forms`) for the conversation's assigned agent.

A bot sends; a human reads: the request is always the agent's, so only they can reveal
it, and it records who sent it (`sent_by`) for the workspace, history and audit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.actors import FORWARD_PAYMENTS, USE_SECURE_FORMS, Actor, Role
from core.errors import DomainError, Forbidden
from core.profiles import profile_for
from core.runtime import Runtime
from core.schema import users


def require_sender(actor: Actor) -> None:
    """Sending a form takes either permission: an agent who may only forward payment
    details sends card forms whose answers they never see."""
    if not {USE_SECURE_FORMS, FORWARD_PAYMENTS} & actor.permissions:
        raise Forbidden()


class AgentNotEligible(DomainError):
    """A site key named an agent the form cannot be sent for; the message says which rule."""

    status, code = 422, "agent_not_eligible"
    default_message = "The form cannot be sent for this agent."

    def __init__(self, rule: str) -> None:
        super().__init__(rule, fields={"agent_id": rule})


def _agent_for_key(rt: Runtime, actor: Actor, conversation: Any, agent_id: str | None) -> str:
    """The agent a site key sends for: named, an enabled agent of the site, the
    conversation's assigned agent, holding secure_forms.use. A bot sends; a human reads."""
    if agent_id is None:
        raise AgentNotEligible("agent_id is required with an API key: the agent who will read.")
    with rt.app_engine.connect() as conn:
        agent = conn.execute(
            select(users.c.role, users.c.enabled, users.c.profile_id).where(
                users.c.id == agent_id, users.c.site_id == actor.site_id
            )
        ).first()
        if agent is None or agent.role != Role.AGENT.value or not agent.enabled:
            raise AgentNotEligible("agent_id names no enabled agent of this site.")
        if conversation.agent_id != agent_id:
            raise AgentNotEligible("The agent is not the conversation's assigned agent.")
        _, granted = profile_for(conn, actor.site_id, Role.AGENT, agent.profile_id)
    if USE_SECURE_FORMS not in granted:
        raise AgentNotEligible(f"The agent does not hold {USE_SECURE_FORMS} (use secure forms).")
    return agent_id


def agent_for(rt: Runtime, actor: Actor, conversation: Any, agent_id: str | None) -> str:
    """The agent the request is for, whoever sends it."""
    if actor.role == Role.SITE_KEY:
        return _agent_for_key(rt, actor, conversation, agent_id)
    require_sender(actor)
    if agent_id not in (None, actor.user_id):
        raise Forbidden("An agent sends secure forms only as themselves.")
    if conversation.agent_id != actor.user_id:
        raise Forbidden("Only the agent assigned to this conversation can send a secure form.")
    assert actor.user_id is not None
    return actor.user_id


def sent_by(row: Any) -> dict[str, Any]:
    """Who sent a request: a site key (by its name then) for the agent, or the agent."""
    if row.sent_by_key_id is not None:
        return {"kind": "api_key", "name": row.sent_by_name}
    return {"kind": "agent", "agent_id": row.agent_id}
