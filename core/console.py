"""Read queries the admin console needs and the JSON API does not: the audit trail newest
first, the names of a site's users, and the conversations that collected secure forms.

Each is scoped to the actor's site, and history needs `secure_forms.view_history`, like
the API's history endpoints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from core import audit
from core.actors import VIEW_HISTORY, Actor, Role
from core.clock import rfc3339
from core.runtime import Runtime
from core.schema import audit_events, conversations, form_requests, users


def audit_newest_first(
    rt: Runtime,
    actor: Actor,
    *,
    since: datetime | None = None,
    type: str | None = None,
    user_id: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The site's audit entries, latest first; `before` pages on by sequence number and a
    `type` ending in "." matches a family ("auth."), as `audit.list_events` does."""
    actor.require_role(Role.ADMIN)
    query = select(audit_events).where(audit_events.c.site_id == actor.site_id)
    if before is not None:
        query = query.where(audit_events.c.seq < before)
    if since is not None:
        query = query.where(audit_events.c.at >= since)
    if type:
        if type.endswith("."):
            query = query.where(audit_events.c.type.startswith(type, autoescape=True))
        else:
            query = query.where(audit_events.c.type == type)
    if user_id:
        query = query.where(audit_events.c.user_id == user_id)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_events.c.seq.desc()).limit(limit)).all()
    return [audit.public(r) for r in rows]


def user_names(rt: Runtime, actor: Actor) -> dict[str, str]:
    """Each user of the site by id: their display name, else their username."""
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(users.c.id, users.c.username, users.c.display_name).where(
                users.c.site_id == actor.site_id
            )
        ).all()
    return {r.id: r.display_name or r.username for r in rows}


def conversations_with_forms(
    rt: Runtime, actor: Actor, *, page: int = 1, per_page: int = 20
) -> tuple[list[dict[str, Any]], int]:
    """The site's conversations in which a visitor sent a secure form, latest first, one
    page of them, and how many there are in all."""
    actor.require(VIEW_HISTORY)
    collected = (
        select(form_requests.c.conversation_id)
        .where(
            form_requests.c.site_id == actor.site_id,
            form_requests.c.submission_id.is_not(None),
        )
        .distinct()
        .subquery()
    )
    query = select(conversations).where(
        conversations.c.site_id == actor.site_id,
        conversations.c.id.in_(select(collected.c.conversation_id)),
    )
    with rt.app_engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(
            query.order_by(conversations.c.created_at.desc(), conversations.c.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
    return [
        {
            "id": r.id,
            "status": r.status,
            "agent_id": r.agent_id,
            "visitor_name": r.visitor_name,
            "created_at": rfc3339(r.created_at),
            "closed_at": rfc3339(r.closed_at) if r.closed_at else None,
        }
        for r in rows
    ], int(total)
