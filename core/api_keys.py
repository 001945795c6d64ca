"""Site API keys: what a chat platform's or a bot's back end calls with.

A key is `sfk_` and 256 random bits; only its SHA-256 is kept (a key is already
high-entropy, so a slow hash would add nothing but latency to every call), and it is
shown once, when made. Each key has a name, chosen by the admin, that the audit trail
and the requests it sends carry, and scopes (core.actors.Scope) that say what it may do.

Nothing is cached: every call looks its key up, so a deleted key is refused by the very
next request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select

from core import audit
from core.actors import SCOPES, SITE_KEY, Actor, Role, Scope
from core.clock import rfc3339, utcnow
from core.errors import DomainError, NotFound
from core.runtime import Runtime
from core.schema import site_api_keys, sites

KEY_PREFIX = "sfk_"
MAX_NAME = 100
DEFAULT_NAME = "chat platform"
DEFAULT_SCOPES: tuple[Scope, ...] = (Scope.CONVERSATIONS,)
# A name shows in the audit trail's resource (`;`-separated, `=` for values) and in
# pages: letters, digits, spaces and a little punctuation keep it one unambiguous token.
_NAME = re.compile(r"^[\w .@()/+-]{1,100}$")
_KEY_SHAPE = re.compile(r"^sfk_[A-Za-z0-9_-]{20,100}$")


class InvalidApiKey(DomainError):
    status, code = 422, "invalid_api_key"
    default_message = "The API key's name or scopes are not valid."


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def checked_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name.strip()):
        raise InvalidApiKey(
            fields={
                "name": f"1 to {MAX_NAME} letters, digits, spaces or . @ ( ) / + - _ characters."
            }
        )
    return name.strip()


def checked_scopes(scopes: object) -> tuple[Scope, ...]:
    """The scopes named, in their canonical order; at least one, each known."""
    if not isinstance(scopes, list | tuple) or not scopes:
        raise InvalidApiKey(fields={"scopes": "A list of one or more of: " + _listed() + "."})
    unknown = [s for s in scopes if not isinstance(s, str) or s not in SCOPES]
    if unknown:
        raise InvalidApiKey(fields={"scopes": "Scopes are " + _listed() + "."})
    return tuple(s for s in SCOPES if s in scopes)


def _listed() -> str:
    return ", ".join(str(s) for s in SCOPES)


def _stored(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def _loaded(raw: str | None) -> tuple[str, ...]:
    return tuple(s for s in (raw or "").split() if s in SCOPES)


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scopes": list(_loaded(row.scopes)),
        "created_at": rfc3339(row.created_at),
    }


def make_key(
    rt: Runtime,
    site_id: str,
    name: object,
    scopes: object = DEFAULT_SCOPES,
    *,
    user_id: str | None = None,
) -> dict[str, Any]:
    """A new key: `{"api_key", "id", "name", "scopes", "created_at"}`; the key only now."""
    clean_name, clean_scopes = checked_name(name), checked_scopes(scopes)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id, now = str(uuid.uuid4()), utcnow()
    with rt.app_engine.begin() as conn:
        if conn.execute(select(sites.c.id).where(sites.c.id == site_id)).first() is None:
            raise NotFound("No such site.")
        conn.execute(
            insert(site_api_keys).values(
                id=key_id,
                site_id=site_id,
                name=clean_name,
                key_hash=_key_hash(key),
                created_at=now,
                scopes=_stored(clean_scopes),
            )
        )
        audit.record(
            rt,
            site_id=site_id,
            type="api_key.created",
            user_id=user_id,
            resource=f"api_key:{key_id};scopes={','.join(clean_scopes)}",
            conn=conn,
        )
    return {
        "api_key": key,
        "id": key_id,
        "name": clean_name,
        "scopes": list(clean_scopes),
        "created_at": rfc3339(now),
    }


def create_key(rt: Runtime, actor: Actor, name: object, scopes: object) -> dict[str, Any]:
    actor.require_role(Role.ADMIN)
    return make_key(rt, actor.site_id, name, scopes, user_id=actor.user_id)


def list_keys(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    actor.require_role(Role.ADMIN)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(site_api_keys)
            .where(site_api_keys.c.site_id == actor.site_id)
            .order_by(site_api_keys.c.created_at, site_api_keys.c.id)
        ).all()
    return [_public(row) for row in rows]


def delete_key(rt: Runtime, actor: Actor, key_id: str) -> None:
    """The key stops working with the next request that presents it."""
    actor.require_role(Role.ADMIN)
    with rt.app_engine.begin() as conn:
        gone = conn.execute(
            delete(site_api_keys).where(
                site_api_keys.c.id == key_id, site_api_keys.c.site_id == actor.site_id
            )
        ).rowcount
        if not gone:
            raise NotFound("No such API key on this site.")
        audit.record(
            rt,
            site_id=actor.site_id,
            type="api_key.deleted",
            user_id=actor.user_id,
            resource=f"api_key:{key_id}",
            conn=conn,
        )


_BY_HASH = select(
    site_api_keys.c.id, site_api_keys.c.site_id, site_api_keys.c.name, site_api_keys.c.scopes
)


def resolve_key(rt: Runtime, key: str) -> Actor | None:
    """The site key's actor, or None for anything that is not a live key."""
    if not _KEY_SHAPE.fullmatch(key):
        return None
    with rt.app_engine.connect() as conn:
        row = conn.execute(_BY_HASH.where(site_api_keys.c.key_hash == _key_hash(key))).first()
    if row is None:
        return None
    return Actor(
        site_id=row.site_id,
        role=SITE_KEY,
        key_id=row.id,
        key_name=row.name,
        scopes=frozenset(_loaded(row.scopes)),
    )


def key_label(actor: Actor) -> str:
    """How the audit trail names a key: its id and its name as it is now."""
    # A key made before names were checked may hold the trail's separators.
    name = (actor.key_name or "").replace(";", "_").replace("=", "_")
    return f"api_key:{actor.key_id};key_name={name}"
