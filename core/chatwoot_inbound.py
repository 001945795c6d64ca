"""What Chatwoot tells us: conversation created, assigned or resolved there, kept in step
here (the webhook's signature is checked before, by the api with connectors.chatwoot).
Resolving closes ours, which kills its keys and drops its off-record values, as a close
does. Chatwoot's webhooks carry an agent's Chatwoot id, never their email, so who is who
comes from the `agents` map an admin sets (core.chatwoot): a Chatwoot agent id to one of
our agents; an agent not in it leaves ours with nobody.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from core import conversations as conv
from core.actors import Actor, Role, Scope
from core.chatwoot import external_id, positive
from core.errors import Conflict, ConversationClosed, NotFound, ValidationFailed
from core.runtime import Runtime
from core.schema import chatwoot_integrations, users


def _chatwoot_actor(site_id: str) -> Actor:
    # Chatwoot acts on conversations as a site key would: named in the transcript and the
    # audit trail, and held to the same rules.
    return Actor(
        site_id=site_id,
        role=Role.SITE_KEY,
        key_name="Chatwoot",
        scopes=frozenset({Scope.CONVERSATIONS}),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


REPLAY_WINDOW_S = 600  # longer than the signature's 5 minutes either way


def once(
    rt: Runtime,
    site_id: str,
    delivery_id: str | None,
    payload: object,
    signature: str | None = None,
) -> dict[str, Any]:
    """`on_webhook`, once per Chatwoot delivery id (X-Chatwoot-Delivery, the same across
    Chatwoot's retries) and once per signature: a delivery played again within the
    signature's window, an old "assigned" say, must not undo what came after it. The
    delivery id is not signed, so a replay under a new one is known by its signature (a
    body and timestamp signed once). Recorded only once handled, so a delivery that
    failed here is handled when Chatwoot retries it."""
    keys: list[str] = []
    if delivery_id and len(delivery_id) <= 100 and delivery_id.isascii():
        keys.append(f"sf:chatwoot:delivery:{site_id}:{delivery_id}")
    if signature and len(signature.strip()) <= 100 and signature.isascii():
        keys.append(f"sf:chatwoot:signature:{site_id}:{signature.strip()}")
    if keys and rt.redis.exists(*keys):
        return {"outcome": "unchanged"}
    answer = on_webhook(rt, site_id, payload)
    for key in keys:
        rt.redis.set(key, "1", ex=REPLAY_WINDOW_S)
    return answer


def on_webhook(rt: Runtime, site_id: str, payload: object) -> dict[str, Any]:
    """Keep our conversation in step with one (signature-checked) Chatwoot event; what
    was done, in a word. Events of other kinds, or of inboxes the site left out, are
    acknowledged and ignored: Chatwoot retries whatever is not a 2xx."""
    event = _dict(payload)
    kind = event.get("event")
    number = event.get("id")
    if kind not in ("conversation_created", "conversation_updated", "conversation_status_changed"):
        return {"outcome": "ignored"}
    if not positive(number):
        raise ValidationFailed(
            "A conversation event names its conversation.",
            fields={"id": "Chatwoot's conversation number."},
        )
    assert isinstance(number, int)
    with rt.app_engine.connect() as conn:
        settings = conn.execute(
            select(chatwoot_integrations).where(chatwoot_integrations.c.site_id == site_id)
        ).first()
    if settings is None:
        raise NotFound()
    inboxes = json.loads(settings.inbox_ids) if settings.inbox_ids else None
    if inboxes is not None and event.get("inbox_id") not in inboxes:
        return {"outcome": "ignored"}
    actor = _chatwoot_actor(site_id)
    meta = _dict(event.get("meta"))
    agents: dict[str, str] = json.loads(settings.agents or "{}")
    assignee = _dict(meta.get("assignee")).get("id")
    agent_id = _usable(rt, site_id, agents.get(str(assignee)) if assignee is not None else None)
    ours, created = _find_or_create(rt, actor, number, meta, agent_id)
    if event.get("status") == "resolved":
        if ours.status == conv.ACTIVE:
            conv.close(rt, actor, ours.id)
            return {"outcome": "closed", "conversation_id": ours.id}
        return {"outcome": "unchanged", "conversation_id": ours.id}
    if ours.status == conv.ACTIVE and ours.agent_id != agent_id:
        try:
            conv.transfer(rt, actor, ours.id, agent_id)
        except ConversationClosed:
            return {"outcome": "unchanged", "conversation_id": ours.id}
        return {"outcome": "assigned", "conversation_id": ours.id}
    return {"outcome": "created" if created else "unchanged", "conversation_id": ours.id}


def _usable(rt: Runtime, site_id: str, agent_id: str | None) -> str | None:
    """The mapped agent, if still an enabled agent of the site; else nobody (a disabled or
    deleted account must neither get the chat nor make Chatwoot's events fail for good)."""
    if agent_id is None:
        return None
    with rt.app_engine.connect() as conn:
        found = conn.execute(
            select(users.c.id).where(
                users.c.id == agent_id,
                users.c.site_id == site_id,
                users.c.role == Role.AGENT.value,
                users.c.enabled.is_(True),
            )
        ).first()
    return agent_id if found is not None else None


def _find_or_create(
    rt: Runtime, actor: Actor, number: int, meta: Mapping[str, Any], agent_id: str | None
) -> tuple[Any, bool]:
    """Ours for Chatwoot's conversation `number`, made now if no event made it before
    (an event can come first after a missed one, or two can race)."""
    wanted = external_id(number)
    found = conv.by_external_id(rt, actor.site_id, wanted)
    if found is not None:
        return found, False
    name = _dict(meta.get("sender")).get("name")
    visitor = name.strip()[:200] if isinstance(name, str) and name.strip() else None
    # A Conflict: the other event of a race made it, the same row either way.
    with contextlib.suppress(Conflict):
        conv.create_conversation(rt, actor, visitor, agent_id, wanted, connector=True)
    found = conv.by_external_id(rt, actor.site_id, wanted)
    assert found is not None
    return found, True
