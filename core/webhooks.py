"""A site's webhooks: where events go (core.outbox sends them), and with which secret.

The secret is made here, shown once, and stored sealed (core.sealed) with associated data
that binds it to the site and the webhook. Rotating it keeps the old one signing beside
the new one for `ROTATION_OVERLAP`, so a receiver can switch without missing an event.

Who may manage them is decided by `may_manage` alone: the site's admins, and API keys
with the `webhooks` scope.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from core import audit
from core.actors import Actor, Role, Scope
from core.clock import aware, rfc3339, utcnow
from core.errors import Forbidden, NotFound, ValidationFailed
from core.outbox import EVENTS, WEBHOOK_KIND, secret_aad
from core.runtime import Runtime
from core.schema import webhook_attempts, webhook_deliveries, webhook_events, webhooks
from core.sealed import SEAL_PURPOSE, open_text, seal_text, sealed_key_id
from vault import VaultError

ROTATION_OVERLAP = timedelta(hours=24)
MAX_WEBHOOKS = 20
MAX_LISTED_ATTEMPTS = 200
log = logging.getLogger("core.webhooks")
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)

# Why a URL can't be a webhook, or None: connectors.webhooks.Policy.check, handed in by
# the api (core never imports connectors).
UrlCheck = Callable[[object], str | None]


def may_manage(actor: Actor) -> None:
    """Admins manage webhooks, and site keys that hold the `webhooks` scope."""
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.SITE_KEY and Scope.WEBHOOKS in actor.scopes:
        return
    raise Forbidden()


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def validated(body: Mapping[str, Any], check_url: UrlCheck) -> tuple[str, list[str]]:
    """The URL and event types of a new webhook, or ValidationFailed naming each field."""
    problems: dict[str, str] = {}
    url = body.get("url")
    problem = check_url(url)
    if problem:
        problems["url"] = problem
    events = body.get("events")
    if not isinstance(events, list) or not events or len(events) > len(EVENTS):
        problems["events"] = f"Must be a list of event types, of: {', '.join(EVENTS)}."
    else:
        unknown = [str(e)[:64] for e in events if e not in EVENTS]
        if unknown:
            problems["events"] = f"Unknown event type {unknown[0]!r}; known: {', '.join(EVENTS)}."
    for name in body:
        if name not in ("url", "events"):
            problems[name] = "Not a field of a webhook."
    if problems:
        raise ValidationFailed("Some fields of the webhook need fixing.", fields=problems)
    assert isinstance(url, str) and isinstance(events, list)
    return url, sorted(set(events), key=EVENTS.index)


def create(
    rt: Runtime, actor: Actor, body: Mapping[str, Any], check_url: UrlCheck
) -> dict[str, Any]:
    may_manage(actor)
    url, events = validated(body, check_url)
    webhook_id, secret, now = str(uuid.uuid4()), _new_secret(), utcnow()
    with rt.app_engine.begin() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(webhooks)
            .where(webhooks.c.site_id == actor.site_id, webhooks.c.kind == WEBHOOK_KIND)
        ).scalar_one()
        if count >= MAX_WEBHOOKS:
            raise ValidationFailed(
                f"A site has at most {MAX_WEBHOOKS} webhooks.",
                fields={"url": f"This site has {MAX_WEBHOOKS} webhooks already."},
            )
        conn.execute(
            insert(webhooks).values(
                id=webhook_id,
                site_id=actor.site_id,
                url=url,
                events=json.dumps(events),
                secret=seal_text(rt.keyring, secret_aad(actor.site_id, webhook_id), secret),
                created_at=now,
            )
        )
        audit.record(
            rt,
            site_id=actor.site_id,
            type="webhook.created",
            user_id=actor.user_id,
            resource=f"webhook:{webhook_id}",
            conn=conn,
        )
    return {"id": webhook_id, "secret": secret, "url": url, "events": events}


def _shown(row: Any) -> dict[str, Any]:
    rotating = row.previous_until is not None and aware(row.previous_until) > utcnow()
    return {
        "id": row.id,
        "url": row.url,
        "events": json.loads(row.events),
        "created_at": rfc3339(row.created_at),
        "previous_secret_until": rfc3339(row.previous_until) if rotating else None,
    }


def list_webhooks(rt: Runtime, actor: Actor) -> dict[str, Any]:
    may_manage(actor)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(webhooks)
            .where(webhooks.c.site_id == actor.site_id, webhooks.c.kind == WEBHOOK_KIND)
            .order_by(webhooks.c.created_at, webhooks.c.id)
        ).all()
    return {"webhooks": [_shown(r) for r in rows]}


def _owned(conn: Any, actor: Actor, webhook_id: str) -> Any:
    row = conn.execute(
        select(webhooks).where(
            webhooks.c.id == webhook_id,
            webhooks.c.site_id == actor.site_id,
            webhooks.c.kind == WEBHOOK_KIND,
        )
    ).first()
    if row is None:
        raise NotFound("No such webhook on this site.")
    return row


def delete_webhook(rt: Runtime, actor: Actor, webhook_id: str) -> None:
    """The webhook, its attempts and its undelivered events go at once."""
    may_manage(actor)
    with rt.app_engine.begin() as conn:
        _owned(conn, actor, webhook_id)
        conn.execute(delete(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id))
        conn.execute(
            delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
        )
        conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
        audit.record(
            rt,
            site_id=actor.site_id,
            type="webhook.deleted",
            user_id=actor.user_id,
            resource=f"webhook:{webhook_id}",
            conn=conn,
        )


def rotate_secret(rt: Runtime, actor: Actor, webhook_id: str) -> dict[str, Any]:
    """A new secret, shown once; the current one goes on signing beside it for 24 h."""
    may_manage(actor)
    secret, until = _new_secret(), utcnow() + ROTATION_OVERLAP
    with rt.app_engine.begin() as conn:
        row = _owned(conn, actor, webhook_id)
        conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.secret == row.secret)
            .values(
                secret=seal_text(rt.keyring, secret_aad(actor.site_id, webhook_id), secret),
                previous_secret=row.secret,
                previous_until=until,
            )
        )
        audit.record(
            rt,
            site_id=actor.site_id,
            type="webhook.secret_rotated",
            user_id=actor.user_id,
            resource=f"webhook:{webhook_id}",
            conn=conn,
        )
    return {"id": webhook_id, "secret": secret, "previous_secret_until": rfc3339(until)}


def deliveries(rt: Runtime, actor: Actor, webhook_id: str, limit: int = 100) -> dict[str, Any]:
    """The webhook's latest attempts, newest first, with the event each one carried."""
    may_manage(actor)
    a, d, e = webhook_attempts, webhook_deliveries, webhook_events
    with rt.app_engine.connect() as conn:
        _owned(conn, actor, webhook_id)
        rows = conn.execute(
            select(
                a.c.attempt,
                a.c.at,
                a.c.outcome,
                a.c.response_code,
                a.c.error,
                d.c.status.label("delivery_status"),
                d.c.next_attempt_at,
                e.c.id.label("event_id"),
                e.c.type,
            )
            .join(d, d.c.id == a.c.delivery_id)
            .join(e, e.c.seq == d.c.event_seq)
            .where(a.c.webhook_id == webhook_id)
            .order_by(a.c.id.desc())
            .limit(max(1, min(limit, MAX_LISTED_ATTEMPTS)))
        ).all()
    return {
        "deliveries": [
            {
                "event_id": r.event_id,
                "type": r.type,
                "attempt": r.attempt,
                "at": rfc3339(r.at),
                "status": r.outcome,
                "response_code": r.response_code,
                "error": r.error,
                "delivery_status": r.delivery_status,
                "next_attempt_at": (
                    rfc3339(r.next_attempt_at) if r.delivery_status == "pending" else None
                ),
            }
            for r in rows
        ]
    }


# -- keyring rotation (core.keys) ------------------------------------------------------------

_SEALED = ("secret", "previous_secret")


def secrets_by_key(rt: Runtime) -> dict[str, int]:
    """How many webhook secrets each keyring key seals: a key in use can't be retired."""
    counts: dict[str, int] = {}
    with rt.app_engine.connect() as conn:
        for row in conn.execute(select(webhooks.c.secret, webhooks.c.previous_secret)):
            for stored in row:
                key_id = sealed_key_id(stored)
                if key_id is not None:
                    counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def reseal_secrets(rt: Runtime) -> int:
    """Re-seal secrets under an older key with the primary (after a keyring rotation),
    each only if it still holds what was read, so a rotation of the secret meanwhile wins."""
    primary = rt.keyring.primary(SEAL_PURPOSE).id
    w = webhooks.c
    with rt.app_engine.connect() as conn:
        rows = conn.execute(select(w.id, w.site_id, w.secret, w.previous_secret)).all()
    done = 0
    for row in rows:
        aad = secret_aad(row.site_id, row.id)
        for column in _SEALED:
            stored = row._mapping[column]
            if not stored or sealed_key_id(stored) == primary:
                continue
            try:
                resealed = seal_text(rt.keyring, aad, open_text(rt.keyring, aad, stored))
            except VaultError:
                log.error("a secret of webhook %s does not open; left as it is", row.id)
                continue  # its key stays in use, so it is not retired under it
            with rt.app_engine.begin() as conn:
                done += conn.execute(
                    update(webhooks)
                    .where(webhooks.c.id == row.id, webhooks.c[column] == stored)
                    .values({column: resealed})
                ).rowcount
    return done
