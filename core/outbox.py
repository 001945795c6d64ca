"""The webhook outbox: events written with the change that caused them, delivered later.

`emit` runs inside the caller's transaction: the event and one delivery row per webhook of
the site that asked for its type commit together with the status change, or not at all,
so no change goes unannounced and no announcement is of a change that rolled back. A
site with no webhook for the type writes nothing.

`drain` (the worker, from beat) sends what is due: per webhook and conversation strictly
in event order, one group at a time under a Redis lock, each group on a thread of its
own so a slow receiver holds up only its own events. A failure waits the settings'
`webhook_retry_schedule_s` in turn; past `webhook_retry_for_s` the delivery is marked
failed and the next event of its group goes. Delivery is at least once: a worker killed
between the POST and the bookkeeping sends that event again, with the same event id.

A body carries ids, statuses, the form's name and version and the agent's id: never a
value, a masked value or a one-time key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.engine import Connection

from core.clock import aware, rfc3339, utcnow
from core.locks import HeldLock
from core.runtime import Runtime
from core.schema import (
    form_requests,
    forms,
    webhook_attempts,
    webhook_deliveries,
    webhook_events,
    webhooks,
)
from core.sealed import open_text
from vault import VaultError
from vault.aad import bind

EVENTS = (
    "secure_form.sent",
    "secure_form.opened",
    "secure_form.submitted",
    "secure_form.viewed",
    "secure_form.expired",
    "secure_form.erased",
    "secure_form.forwarded",
    "conversation.closed",
    "conversation.transferred",
)
WEBHOOK_KIND = "webhook"  # a site's own receiver; core.chatwoot keeps rows of its own kind
PENDING, DELIVERED, FAILED, RETRYING = "pending", "delivered", "failed", "retrying"
GROUP_BUDGET_S = 30.0  # then the group's lock is let go; the next drain goes on with it
LOCK_TTL_S = 120  # longer than a budget plus one 10 s attempt
MAX_GROUPS = 64
THREADS = 8
KEPT_FOR = timedelta(days=30)  # delivered or failed events, and their attempts


class Attempt(Protocol):
    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def ok(self) -> bool: ...


class Sender(Protocol):
    """One signed POST (connectors.webhooks.post, with the URL policy bound)."""

    def __call__(
        self, url: str, body: bytes, *, event_id: str, event_type: str, secrets: Sequence[str]
    ) -> Attempt: ...


def secret_aad(site_id: str, webhook_id: str) -> bytes:
    return bind("webhook-secret", site_id, webhook_id)


# -- writing ---------------------------------------------------------------------------------


def emit(
    conn: Connection, site_id: str, type: str, order_key: str, data: Mapping[str, Any]
) -> str | None:
    """Queue `type` for every webhook of the site that asked for it, in `conn`'s
    transaction; the event id, or None when no webhook wants it."""
    targets = targets_for(conn, site_id, type)
    return emit_to(conn, site_id, type, order_key, data, targets) if targets else None


def targets_for(conn: Connection, site_id: str, type: str) -> list[str]:
    """The site's webhooks that asked for `type` (one indexed read; most sites have none)."""
    if type not in EVENTS:
        raise ValueError(f"not a webhook event: {type!r}")
    rows = conn.execute(
        select(webhooks.c.id, webhooks.c.events).where(
            webhooks.c.site_id == site_id, webhooks.c.kind == WEBHOOK_KIND
        )
    ).all()
    return [r.id for r in rows if type in json.loads(r.events)]


def emit_to(
    conn: Connection,
    site_id: str,
    type: str,
    order_key: str,
    data: Mapping[str, Any],
    targets: list[str],
) -> str:
    """Queue `type` for exactly `targets` (webhooks rows, of any kind)."""
    event_id, now = str(uuid.uuid4()), utcnow()
    body = {
        "id": event_id,
        "type": type,
        "created_at": rfc3339(now),
        "site_id": site_id,
        "data": dict(data),
    }
    inserted = conn.execute(
        insert(webhook_events).values(
            id=event_id,
            site_id=site_id,
            type=type,
            body=json.dumps(body, separators=(",", ":")),
            created_at=now,
        )
    ).inserted_primary_key
    assert inserted is not None
    seq = inserted[0]
    conn.execute(
        insert(webhook_deliveries),
        [
            {
                "webhook_id": webhook_id,
                "event_seq": seq,
                "site_id": site_id,
                "order_key": order_key,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in targets
        ],
    )
    return event_id


def emit_request(
    conn: Connection,
    site_id: str,
    type: str,
    *,
    request_id: str | None = None,
    submission_id: str | None = None,
    targets: list[str] | None = None,
    **extra: Any,
) -> str | None:
    """A secure form event (of the request, or of the request a submission answered),
    its data read from the request as this transaction sees it. `targets`: the site's
    webhooks for `type` when the caller has read them already (`targets_for`)."""
    if targets is None:
        targets = targets_for(conn, site_id, type)
    if not targets:
        return None
    by = (
        form_requests.c.id == request_id
        if request_id is not None
        else form_requests.c.submission_id == submission_id
    )
    row = conn.execute(
        select(form_requests, forms.c.name.label("form_name"))
        .join(forms, forms.c.id == form_requests.c.form_id)
        .where(by, form_requests.c.site_id == site_id)
    ).first()
    if row is None:
        return None
    data = {
        "request_id": row.id,
        "conversation_id": row.conversation_id,
        "submission_id": row.submission_id,
        "status": row.status,
        "form": {"id": row.form_id, "name": row.form_name, "version": row.form_version},
        "agent_id": row.agent_id,
        **extra,
    }
    return emit_to(conn, site_id, type, row.conversation_id, data, targets)


def emit_conversation(
    conn: Connection, conversation: Any, type: str, status: str, agent_id: str | None = None
) -> str | None:
    """A conversation event: its new status and agent (and, moved, the one before)."""
    data = {"conversation_id": conversation.id, "status": status}
    if type == "conversation.transferred":
        data |= {"agent_id": agent_id, "previous_agent_id": conversation.agent_id}
    else:
        data["agent_id"] = conversation.agent_id
    return emit(conn, conversation.site_id, type, conversation.id, data)


# -- sending ---------------------------------------------------------------------------------


def drain(
    rt: Runtime, send: Sender, *, now: Callable[[], datetime] = utcnow, threads: int = THREADS
) -> int:
    """Send what is due, each group in order on a thread of its own; how many were sent."""
    with rt.app_engine.connect() as conn:
        groups = conn.execute(
            select(webhook_deliveries.c.webhook_id, webhook_deliveries.c.order_key)
            .where(
                webhook_deliveries.c.status == PENDING,
                webhook_deliveries.c.next_attempt_at <= now(),
            )
            .group_by(webhook_deliveries.c.webhook_id, webhook_deliveries.c.order_key)
            .limit(MAX_GROUPS)
        ).all()
    if not groups:
        return 0
    with ThreadPoolExecutor(max_workers=min(threads, len(groups))) as pool:
        done = pool.map(lambda g: run_group(rt, send, g.webhook_id, g.order_key, now=now), groups)
        return sum(done)


def run_group(
    rt: Runtime,
    send: Sender,
    webhook_id: str,
    order_key: str,
    *,
    now: Callable[[], datetime] = utcnow,
) -> int:
    """Send one group's due deliveries in order until one fails or none is due."""
    sent = 0
    started = time.monotonic()
    with HeldLock(rt, f"webhook:{webhook_id}:{order_key}", LOCK_TTL_S) as lock:
        if not lock.acquired:
            return 0  # another drain has this group: order is kept by sending from one place
        while time.monotonic() - started < GROUP_BUDGET_S:
            head = _head(rt, webhook_id, order_key)
            if head is None or aware(head.next_attempt_at) > now():
                break
            secrets = _secrets(rt, head, now())
            attempt: Attempt = (
                send(
                    head.url,
                    head.body.encode(),
                    event_id=head.event_id,
                    event_type=head.type,
                    secrets=secrets,
                )
                if secrets
                else _NOT_SENT
            )
            _record(rt, head, attempt, now())
            if not attempt.ok:
                break
            sent += 1
    return sent


def _head(rt: Runtime, webhook_id: str, order_key: str) -> Any:
    """The group's first undelivered event (what must go before anything after it)."""
    d, e, w = webhook_deliveries, webhook_events, webhooks
    with rt.app_engine.connect() as conn:
        return conn.execute(
            select(
                d.c.id,
                d.c.attempts,
                d.c.next_attempt_at,
                d.c.created_at,
                d.c.site_id,
                e.c.id.label("event_id"),
                e.c.type,
                e.c.body,
                w.c.id.label("webhook_id"),
                w.c.url,
                w.c.secret,
                w.c.previous_secret,
                w.c.previous_until,
            )
            .join(e, e.c.seq == d.c.event_seq)
            .join(w, w.c.id == d.c.webhook_id)
            .where(d.c.webhook_id == webhook_id, d.c.order_key == order_key, d.c.status == PENDING)
            .order_by(d.c.event_seq)
            .limit(1)
        ).first()


def _secrets(rt: Runtime, head: Any, moment: datetime) -> list[str]:
    """The current secret, then the old one while its overlap lasts."""
    aad = secret_aad(head.site_id, head.webhook_id)
    try:
        found = [open_text(rt.keyring, aad, head.secret)]
        if head.previous_secret and head.previous_until and aware(head.previous_until) > moment:
            found.append(open_text(rt.keyring, aad, head.previous_secret))
    except VaultError:
        return []
    return found


@dataclass(frozen=True)
class _Unsent:
    """An attempt that never reached the network (the secret would not open)."""

    error: str
    status_code: None = None
    ok: bool = False


_NOT_SENT = _Unsent("the signing secret does not open")


def _record(rt: Runtime, head: Any, attempt: Attempt, moment: datetime) -> None:
    """Book one attempt: delivered, or the next try after the schedule's wait, or failed
    once the wait would run past webhook_retry_for_s."""
    attempts = int(head.attempts) + 1
    settings = rt.settings
    code, error = attempt.status_code, attempt.error
    if attempt.ok:
        outcome, next_at = DELIVERED, moment
    else:
        if error is None and code is not None:
            error = f"answered {code}"
        schedule = settings.webhook_retry_schedule_s
        wait = schedule[min(attempts, len(schedule)) - 1]
        next_at = moment + timedelta(seconds=wait)
        deadline = aware(head.created_at) + timedelta(seconds=settings.webhook_retry_for_s)
        outcome = FAILED if next_at > deadline else RETRYING
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == head.id, webhook_deliveries.c.status == PENDING)
            .values(
                attempts=attempts,
                status=PENDING if outcome == RETRYING else outcome,
                next_attempt_at=next_at,
            )
        )
        conn.execute(
            insert(webhook_attempts).values(
                delivery_id=head.id,
                webhook_id=head.webhook_id,
                attempt=attempts,
                at=moment,
                outcome=outcome,
                response_code=code,
                error=error[:200] if error else None,
            )
        )


def prune(rt: Runtime, *, now: datetime | None = None) -> int:
    """Forget events older than KEPT_FOR that are delivered or given up (their attempts
    with them); a pending one stays however old. Answers how many deliveries went."""
    cutoff = (now or utcnow()) - KEPT_FOR
    d, e, a = webhook_deliveries, webhook_events, webhook_attempts
    done = (
        select(d.c.id)
        .join(e, e.c.seq == d.c.event_seq)
        .where(e.c.created_at < cutoff, d.c.status != PENDING)
    )
    with rt.app_engine.begin() as conn:
        ids = list(conn.execute(done).scalars())
        if ids:
            conn.execute(delete(a).where(a.c.delivery_id.in_(ids)))
            conn.execute(delete(d).where(d.c.id.in_(ids)))
        conn.execute(
            delete(e).where(e.c.created_at < cutoff, ~exists().where(d.c.event_seq == e.c.seq))
        )
    return len(ids)
