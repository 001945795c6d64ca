"""A keyring rotation re-seals what the Chatwoot connector keeps sealed (its webhook
secret, and links not yet delivered), so the old key retires and both still open."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select

from core import chatwoot, keys
from core import conversations as conv
from core.actors import Actor, Role, Scope
from core.runtime import Runtime
from core.schema import webhook_events
from core.webhooks import secrets_by_key as webhook_secrets_by_key


def allow(url: object) -> str | None:
    return None


def test_a_rotation_reseals_the_webhook_secret_and_pending_links(
    own_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    rt = own_rt
    admin = new_site(rt)
    settings = {
        "base_url": "https://chat.example.com",
        "account_id": 1,
        "api_access_token": "token-1",
        "webhook_secret": "secret-1",
    }
    chatwoot.configure(rt, admin, settings, allow)
    connector = Actor(
        site_id=admin.site_id, role=Role.SITE_KEY, scopes=frozenset({Scope.CONVERSATIONS})
    )
    made = conv.create_conversation(rt, connector, None, None, "chatwoot:5", connector=True)
    request_id = str(uuid.uuid4())
    link = "https://forms.example.com/f/abcdefghijklmnopqrstuv"
    with rt.app_engine.begin() as conn:
        chatwoot.relay_link(conn, rt, admin.site_id, made["id"], request_id, "Payment card", link)
    old = rt.keyring.primary("data").id
    assert chatwoot.secrets_by_key(rt) == {old: 2}

    keys.rotate(rt, ("data",))
    report = keys.rewrap_and_retire(rt)
    assert report["resealed_chatwoot_secrets"] == 2
    assert old in report["retired"]
    new = rt.keyring.primary("data").id
    assert chatwoot.secrets_by_key(rt) == {new: 2}
    assert webhook_secrets_by_key(rt) == {new: 1}  # the API token, in its webhooks row
    assert chatwoot.webhook_secret(rt, admin.site_id) == "secret-1"
    with rt.app_engine.connect() as conn:
        body = conn.execute(
            select(webhook_events.c.body).where(webhook_events.c.site_id == admin.site_id)
        ).scalar_one()
    message = chatwoot.message_of(rt, body.encode())
    assert link in message.content and not message.private
    assert link not in body  # still sealed at rest
    assert keys.rewrap_and_retire(rt)["resealed_chatwoot_secrets"] == 0
