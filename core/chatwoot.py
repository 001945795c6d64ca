"""A site's Chatwoot: its settings, what we tell its conversations, and what it tells us.

Settings (`configure`, `shown`, `remove`): the base URL, account, API access token and,
to check Chatwoot's own webhooks, their secret; both secrets sealed at rest (core.sealed),
never shown again. A Chatwoot conversation is ours under the external id `chatwoot:<n>`,
n being Chatwoot's conversation number (its `display_id`, the id its API and webhooks use).

Out (`relay_link`, `relay_status`): a message to the conversation goes through the
webhook outbox in the transaction of the change it reports, to the site's webhooks row
of kind "chatwoot", so Chatwoot being down delays it and loses nothing. The visitor's
link is sealed in the outbox row (it carries an open key); the notes on submitted,
viewed and expired carry a form's name and a time, never a value, a mask or a key.

What Chatwoot tells us (its webhooks) is core.chatwoot_inbound.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from core import audit, outbox
from core.actors import Actor, Role
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from core.runtime import Runtime
from core.schema import (
    chatwoot_integrations,
    conversations,
    form_requests,
    forms,
    sites,
    users,
    webhook_attempts,
    webhook_deliveries,
    webhook_events,
    webhooks,
)
from core.sealed import SEAL_PURPOSE, open_text, seal_text, sealed_key_id
from vault import VaultError
from vault.aad import bind

PREFIX = "chatwoot:"
_NUMBER = re.compile(r"[1-9][0-9]{0,17}")
_TOKEN_NEEDED = "Required with a new base_url: an access token from Chatwoot's profile page."  # noqa: S105
MAX_ACCOUNT = 2**31 - 1  # the column is a 32-bit integer
KIND = "chatwoot"
MESSAGE_EVENT = "chatwoot.message"
MAX_TOKEN = 200
MAX_AGENTS = 500
MAX_INBOXES = 100
FIELDS = ("base_url", "account_id", "api_access_token", "inbox_ids", "webhook_secret", "agents")
NOTES = {
    "secure_form.submitted": "{form} submitted {at}. View it once in Secure forms.",
    "secure_form.viewed": "{form} answers viewed {at} in Secure forms.",
    "secure_form.expired": "{form} expired {at} without answers.",
}
# Why a URL can't be Chatwoot's, or None: connectors.webhooks.Policy.check, handed in by
# the api (core never imports connectors).
UrlCheck = Callable[[object], str | None]


def external_id(number: int) -> str:
    return f"{PREFIX}{number}"


def number_of(external: str | None) -> int | None:
    """Chatwoot's conversation number in an external id of ours, or None."""
    if not external or not external.startswith(PREFIX):
        return None
    digits = external[len(PREFIX) :]
    # Canonical only: "chatwoot:042" or "chatwoot:²" would name conversation 42 or crash.
    return int(digits) if _NUMBER.fullmatch(digits) else None


def _secret_aad(site_id: str) -> bytes:
    return bind("chatwoot-webhook-secret", site_id)


def _link_aad(site_id: str, request_id: str) -> bytes:
    return bind("chatwoot-link", site_id, request_id)


def _require_admin(actor: Actor) -> None:
    actor.require_role(Role.ADMIN)


# -- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wanted:
    base_url: str
    account_id: int
    token: str | None  # None: keep the stored one
    inbox_ids: list[int] | None
    webhook_secret: str | None  # None: keep the stored one
    agents: dict[str, str]


def positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53


def _secret_text(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TOKEN
        and value.isprintable()
        and value.strip() == value
    )


def _validated(
    conn: Connection,
    site_id: str,
    body: Mapping[str, Any],
    check_url: UrlCheck,
    *,
    current_url: str | None,
) -> _Wanted:
    """The settings asked for. A new Chatwoot, or a new address for it, needs its token
    again: the stored one must never follow the address to another host."""
    problems: dict[str, str] = {}
    for name in body:
        if name not in FIELDS:
            problems[str(name)[:64]] = "Not a field of the Chatwoot settings."
    base_url = body.get("base_url")
    problem = check_url(base_url)
    if problem:
        problems["base_url"] = problem
    elif isinstance(base_url, str) and (base_url.rstrip("/").count("/") > 2 or "?" in base_url):
        problems["base_url"] = "Chatwoot's address only, such as https://chat.example.com."
    account = body.get("account_id")
    if not positive(account) or account > MAX_ACCOUNT:  # type: ignore[operator]
        problems["account_id"] = "Your Chatwoot account's number (in its URLs: /accounts/<n>)."
    token = body.get("api_access_token")
    moved = isinstance(base_url, str) and base_url.rstrip("/") != current_url
    if token is None and moved:
        problems["api_access_token"] = _TOKEN_NEEDED
    elif token is not None and not _secret_text(token):
        problems["api_access_token"] = f"1 to {MAX_TOKEN} printable characters."
    secret = body.get("webhook_secret")
    if secret is not None and not _secret_text(secret):
        problems["webhook_secret"] = f"1 to {MAX_TOKEN} printable characters."
    inboxes = body.get("inbox_ids")
    if inboxes is not None and not (
        isinstance(inboxes, list)
        and len(inboxes) <= MAX_INBOXES
        and all(positive(i) for i in inboxes)
    ):
        problems["inbox_ids"] = f"A list of up to {MAX_INBOXES} Chatwoot inbox numbers."
    agents = _agents(conn, site_id, body.get("agents", {}), problems)
    if problems:
        raise ValidationFailed("Some Chatwoot settings need fixing.", fields=problems)
    assert isinstance(base_url, str)
    return _Wanted(
        base_url=base_url.rstrip("/"),
        account_id=int(body["account_id"]),
        token=token,
        inbox_ids=sorted(set(inboxes)) if inboxes is not None else None,
        webhook_secret=secret,
        agents=agents,
    )


def _agents(
    conn: Connection, site_id: str, value: object, problems: dict[str, str]
) -> dict[str, str]:
    """{Chatwoot agent id: our username} as sent, as {Chatwoot agent id: our user id}."""
    if not isinstance(value, dict) or len(value) > MAX_AGENTS:
        problems["agents"] = (
            f"An object of up to {MAX_AGENTS} Chatwoot agent ids, each to one of this "
            'site\'s agents by username, such as {"7": "sam"}.'
        )
        return {}
    wanted = {str(k): v for k, v in value.items()}
    bad = [
        k for k, v in wanted.items() if not (k.isdigit() and len(k) <= 18) or not isinstance(v, str)
    ]
    if bad:
        problems["agents"] = f"{bad[0][:20]!r}: a Chatwoot agent id (digits) to a username."
        return {}
    rows = conn.execute(
        select(users.c.id, users.c.username).where(
            users.c.site_id == site_id,
            users.c.role == Role.AGENT.value,
            users.c.username.in_(set(wanted.values())),
        )
    ).all()
    ids = {r.username: r.id for r in rows}
    unknown = [u for u in wanted.values() if u not in ids]
    if unknown:
        problems["agents"] = f"{unknown[0][:150]!r} is not an agent of this site."
        return {}
    return {k: ids[v] for k, v in wanted.items()}


def _integration(conn: Connection, site_id: str) -> Any:
    i, w = chatwoot_integrations, webhooks
    return conn.execute(
        select(i, w.c.url.label("base_url"), w.c.secret.label("token"))
        .join(w, w.c.id == i.c.webhook_id)
        .where(i.c.site_id == site_id)
    ).first()


def configure(
    rt: Runtime, actor: Actor, body: Mapping[str, Any], check_url: UrlCheck
) -> dict[str, Any]:
    """Set up (or change) the site's Chatwoot; secrets left out keep their stored value."""
    _require_admin(actor)
    site_id, now = actor.site_id, utcnow()
    with rt.app_engine.begin() as conn:
        # The site row's lock first: two first PUTs at once would both insert.
        conn.execute(update(sites).where(sites.c.id == site_id).values(name=sites.c.name))
        current = _integration(conn, site_id)
        current_url = current.base_url if current is not None else None
        wanted = _validated(conn, site_id, body, check_url, current_url=current_url)
        webhook_id = current.webhook_id if current is not None else str(uuid.uuid4())
        values: dict[str, Any] = {"url": wanted.base_url}
        if wanted.token is not None:
            values["secret"] = seal_text(
                rt.keyring, outbox.secret_aad(site_id, webhook_id), wanted.token
            )
        settings: dict[str, Any] = {
            "account_id": wanted.account_id,
            "inbox_ids": json.dumps(wanted.inbox_ids) if wanted.inbox_ids is not None else None,
            "agents": json.dumps(wanted.agents),
            "updated_at": now,
        }
        if wanted.webhook_secret is not None:
            settings["webhook_secret"] = seal_text(
                rt.keyring, _secret_aad(site_id), wanted.webhook_secret
            )
        if current is None:
            conn.execute(
                insert(webhooks).values(
                    id=webhook_id,
                    site_id=site_id,
                    events=json.dumps([MESSAGE_EVENT]),
                    created_at=now,
                    kind=KIND,
                    **values,
                )
            )
            conn.execute(
                insert(chatwoot_integrations).values(
                    site_id=site_id, webhook_id=webhook_id, **settings
                )
            )
        else:
            conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))
            conn.execute(
                update(chatwoot_integrations)
                .where(chatwoot_integrations.c.site_id == site_id)
                .values(**settings)
            )
        audit.record(
            rt,
            site_id=site_id,
            type="chatwoot.configured",
            user_id=actor.user_id,
            resource=f"chatwoot:{wanted.base_url};account:{wanted.account_id}",
            conn=conn,
        )
        return _shown(conn, _integration(conn, site_id))


def _shown(conn: Connection, row: Any) -> dict[str, Any]:
    # As PUT takes them: by username, so what GET answers can be sent back as it is.
    ids: dict[str, str] = json.loads(row.agents or "{}")
    names = dict(
        conn.execute(
            select(users.c.id, users.c.username).where(
                users.c.site_id == row.site_id, users.c.id.in_(set(ids.values()))
            )
        ).all()
    )
    agents = {k: names[v] for k, v in ids.items() if v in names}
    return {
        "base_url": row.base_url,
        "account_id": row.account_id,
        "inbox_ids": json.loads(row.inbox_ids) if row.inbox_ids else None,
        "api_access_token_set": True,
        "webhook_secret_set": row.webhook_secret is not None,
        "agents": agents,
        "webhook_path": f"/api/v1/integrations/chatwoot/webhook/{row.site_id}",
        "updated_at": row.updated_at.isoformat(),
    }


def shown(rt: Runtime, actor: Actor) -> dict[str, Any]:
    """The settings as an admin sees them: never the token or the secret."""
    _require_admin(actor)
    with rt.app_engine.connect() as conn:
        row = _integration(conn, actor.site_id)
        if row is None:
            raise NotFound("This site has no Chatwoot set up.")
        return _shown(conn, row)


def remove(rt: Runtime, actor: Actor) -> None:
    """Forget the site's Chatwoot, and any message still waiting to go to it."""
    _require_admin(actor)
    with rt.app_engine.begin() as conn:
        row = _integration(conn, actor.site_id)
        if row is None:
            raise NotFound("This site has no Chatwoot set up.")
        conn.execute(
            delete(chatwoot_integrations).where(chatwoot_integrations.c.site_id == actor.site_id)
        )
        conn.execute(
            delete(webhook_attempts).where(webhook_attempts.c.webhook_id == row.webhook_id)
        )
        conn.execute(
            delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == row.webhook_id)
        )
        conn.execute(delete(webhooks).where(webhooks.c.id == row.webhook_id))
        audit.record(
            rt,
            site_id=actor.site_id,
            type="chatwoot.removed",
            user_id=actor.user_id,
            resource=f"chatwoot:{row.base_url}",
            conn=conn,
        )


def webhook_secret(rt: Runtime, site_id: str) -> str | None:
    """The secret Chatwoot signs its webhooks to this site with; None when there is none
    (no Chatwoot, no secret set, or one that won't open: all refused alike)."""
    if "\x00" in site_id or not site_id.isascii():
        return None
    with rt.app_engine.connect() as conn:
        stored = conn.execute(
            select(chatwoot_integrations.c.webhook_secret).where(
                chatwoot_integrations.c.site_id == site_id
            )
        ).scalar()
    if not stored:
        return None
    try:
        return open_text(rt.keyring, _secret_aad(site_id), stored)
    except VaultError:
        return None


# -- out: messages to a Chatwoot conversation, through the outbox -----------------------------


def _target(conn: Connection, site_id: str, conversation_id: str) -> tuple[str, int, int] | None:
    """(the outbox target, Chatwoot's account, its conversation number), or None when the
    conversation isn't a Chatwoot one or the site has no Chatwoot."""
    row = conn.execute(
        select(
            conversations.c.external_id,
            chatwoot_integrations.c.webhook_id,
            chatwoot_integrations.c.account_id,
        )
        .join(chatwoot_integrations, chatwoot_integrations.c.site_id == conversations.c.site_id)
        .where(conversations.c.id == conversation_id, conversations.c.site_id == site_id)
    ).first()
    number = number_of(row.external_id) if row is not None else None
    if row is None or number is None:
        return None
    return row.webhook_id, row.account_id, number


def relays(rt: Runtime, site_id: str, conversation_id: str) -> bool:
    """Whether messages for this conversation go to the site's Chatwoot."""
    with rt.app_engine.connect() as conn:
        return _target(conn, site_id, conversation_id) is not None


def relay_link(
    conn: Connection,
    rt: Runtime,
    site_id: str,
    conversation_id: str,
    request_id: str,
    title: str,
    url: str,
) -> str | None:
    """Post the visitor's link into the Chatwoot conversation (sealed until it goes)."""
    target = _target(conn, site_id, conversation_id)
    if target is None:
        return None
    webhook_id, account_id, number = target
    content = (
        f"Please fill in this secure form: {title}\n{url}\n"
        "What you type there stays out of this chat."
    )
    data = {
        "account_id": account_id,
        "conversation_id": number,
        "private": False,
        "request_id": request_id,
        "sealed_content": seal_text(rt.keyring, _link_aad(site_id, request_id), content),
    }
    return outbox.emit_to(conn, site_id, MESSAGE_EVENT, conversation_id, data, [webhook_id])


def has_chatwoot(conn: Connection, site_id: str) -> bool:
    # On the worker's path for every submission: most sites have no Chatwoot, and for
    # them this one primary-key read is the whole cost.
    found = conn.execute(
        select(chatwoot_integrations.c.site_id).where(chatwoot_integrations.c.site_id == site_id)
    ).first()
    return found is not None


def relay_status(
    conn: Connection, site_id: str, type: str, request_id: str, *, has_it: bool = False
) -> str | None:
    """A private note on submitted, viewed or expired: the form's name and a time.
    `has_it`: the caller has just read that the site has Chatwoot (`has_chatwoot`)."""
    note = NOTES.get(type)
    if note is None or not (has_it or has_chatwoot(conn, site_id)):
        return None
    row = conn.execute(
        select(form_requests.c.conversation_id, forms.c.name)
        .join(forms, forms.c.id == form_requests.c.form_id)
        .where(form_requests.c.id == request_id, form_requests.c.site_id == site_id)
    ).first()
    if row is None:
        return None
    target = _target(conn, site_id, row.conversation_id)
    if target is None:
        return None
    webhook_id, account_id, number = target
    at = utcnow().strftime("%H:%M UTC")
    data = {
        "account_id": account_id,
        "conversation_id": number,
        "private": True,
        "request_id": request_id,
        "content": note.format(form=row.name, at=at),
    }
    return outbox.emit_to(conn, site_id, MESSAGE_EVENT, row.conversation_id, data, [webhook_id])


@dataclass(frozen=True)
class Message:
    account_id: int
    conversation_id: int
    content: str
    private: bool

    def __repr__(self) -> str:  # a link carries a key: never in a log line
        return f"Message(conversation={self.conversation_id}, private={self.private})"


def message_of(rt: Runtime, body: bytes) -> Message:
    """What an outbox row of MESSAGE_EVENT says to post; VaultError if it won't open."""
    event = json.loads(body)
    data = event["data"]
    content = data.get("content")
    if content is None:
        content = open_text(
            rt.keyring, _link_aad(event["site_id"], data["request_id"]), data["sealed_content"]
        )
    return Message(
        account_id=int(data["account_id"]),
        conversation_id=int(data["conversation_id"]),
        content=str(content),
        private=bool(data["private"]),
    )


# -- keyring rotation (core.keys) ------------------------------------------------------------


def _pending_links(conn: Connection) -> Sequence[Any]:
    """Link messages not yet delivered: their sealed content still has to open."""
    e, d = webhook_events, webhook_deliveries
    return conn.execute(
        select(e.c.id, e.c.site_id, e.c.body)
        .join(d, d.c.event_seq == e.c.seq)
        .where(e.c.type == MESSAGE_EVENT, d.c.status == outbox.PENDING)
    ).all()


def _sealed_link(body: str) -> tuple[str, str] | None:
    data = json.loads(body)["data"]
    sealed = data.get("sealed_content")
    return (data["request_id"], sealed) if sealed else None


def secrets_by_key(rt: Runtime) -> dict[str, int]:
    """How many webhook secrets and undelivered links each keyring key seals: a key in use
    can't be retired (the API token is a webhooks row's secret: core.webhooks counts it)."""
    counts: dict[str, int] = {}
    with rt.app_engine.connect() as conn:
        stored = list(conn.execute(select(chatwoot_integrations.c.webhook_secret)).scalars())
        stored += [link[1] for row in _pending_links(conn) if (link := _sealed_link(row.body))]
    for value in stored:
        key_id = sealed_key_id(value)
        if key_id is not None:
            counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def reseal_secrets(rt: Runtime) -> int:
    """Re-seal, under the primary, what an older key seals: each webhook secret, and each
    undelivered link; a row changed meanwhile keeps its change."""
    primary = rt.keyring.primary(SEAL_PURPOSE).id
    done = 0
    with rt.app_engine.connect() as conn:
        integrations = conn.execute(
            select(chatwoot_integrations.c.site_id, chatwoot_integrations.c.webhook_secret)
        ).all()
        links = _pending_links(conn)
    for row in integrations:
        if not row.webhook_secret or sealed_key_id(row.webhook_secret) == primary:
            continue
        aad = _secret_aad(row.site_id)
        try:
            fresh = seal_text(rt.keyring, aad, open_text(rt.keyring, aad, row.webhook_secret))
        except VaultError:
            continue  # its key stays in use, so it is not retired under it
        ci = chatwoot_integrations.c
        with rt.app_engine.begin() as conn:
            done += conn.execute(
                update(chatwoot_integrations)
                .where(ci.site_id == row.site_id, ci.webhook_secret == row.webhook_secret)
                .values(webhook_secret=fresh)
            ).rowcount
    for row in links:
        found = _sealed_link(row.body)
        if found is None or sealed_key_id(found[1]) == primary:
            continue
        request_id, sealed = found
        aad = _link_aad(row.site_id, request_id)
        try:
            fresh = seal_text(rt.keyring, aad, open_text(rt.keyring, aad, sealed))
        except VaultError:
            continue
        body = json.loads(row.body)
        body["data"]["sealed_content"] = fresh
        with rt.app_engine.begin() as conn:
            done += conn.execute(
                update(webhook_events)
                .where(webhook_events.c.id == row.id, webhook_events.c.body == row.body)
                .values(body=json.dumps(body, separators=(",", ":")))
            ).rowcount
    return done
