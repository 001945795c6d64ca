"""A site's payment processor: who receives forwarded cards, and with which key.

The whole setting (provider, key, endpoint, headers) is sealed at rest as one value
(core.sealed) whose associated data binds the site and the purpose, so a dump of the app
DB holds no processor key and a row copied to another site won't open. Reading it back
shows only the provider, the base URL and the key's last four characters.

`erase_after_forward` (on unless turned off) is the site's policy for what a successful
forward leaves in the vault: with it, the card number and expiry are erased at once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update

from core import audit
from core.actors import Actor, Role
from core.clock import rfc3339, utcnow
from core.errors import ValidationFailed
from core.runtime import Runtime
from core.schema import payment_settings
from core.sealed import SEAL_PURPOSE, open_text, seal_text, sealed_key_id
from vault import VaultError
from vault.aad import bind

STRIPE_API = "https://api.stripe.com"
_STRIPE_KEY = re.compile(r"^(sk|rk)_[A-Za-z0-9_]{4,250}$")
_POINTER = re.compile(r"^(/([^/~]|~[01])*)+$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_HEADERS = MAX_POINTERS = 20
MAX_TEMPLATE_BYTES = 8192

log = logging.getLogger("core.payment_settings")


def _aad(site_id: str) -> bytes:
    return bind("payment-settings", site_id)


def put_settings(rt: Runtime, actor: Actor, body: Mapping[str, Any]) -> dict[str, Any]:
    actor.require_role(Role.ADMIN)
    config = validated(body, allow_http=rt.settings.allows_dev_defaults)
    sealed = seal_text(rt.keyring, _aad(actor.site_id), json.dumps(config, sort_keys=True))
    with rt.app_engine.begin() as conn:
        conn.execute(delete(payment_settings).where(payment_settings.c.site_id == actor.site_id))
        conn.execute(
            insert(payment_settings).values(
                site_id=actor.site_id,
                provider=config["provider"],
                sealed_config=sealed,
                updated_at=utcnow(),
            )
        )
        audit.record(
            rt,
            site_id=actor.site_id,
            type="site.payments_changed",
            user_id=actor.user_id,
            resource=f"provider:{config['provider']}",
            conn=conn,
        )
    return _shown(config, rfc3339(utcnow()))


def get_settings(rt: Runtime, actor: Actor) -> dict[str, Any]:
    actor.require_role(Role.ADMIN)
    found = _stored(rt, actor.site_id)
    if found is None:
        return {"provider": None}
    config, updated_at = found
    return _shown(config, updated_at)


def processor_config(rt: Runtime, site_id: str) -> dict[str, Any] | None:
    """The opened setting, for the one call that forwards a card; None when unset."""
    found = _stored(rt, site_id)
    return None if found is None else found[0]


def _stored(rt: Runtime, site_id: str) -> tuple[dict[str, Any], str] | None:
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(payment_settings).where(payment_settings.c.site_id == site_id)
        ).first()
    if row is None:
        return None
    try:
        config = json.loads(open_text(rt.keyring, _aad(site_id), row.sealed_config))
    except VaultError:
        return None  # a retired key or an altered row: as if unset, never half-read
    return dict(config), rfc3339(row.updated_at)


def settings_by_key(rt: Runtime) -> dict[str, int]:
    """How many sites' settings each keyring key seals: a key in use can't be retired."""
    counts: dict[str, int] = {}
    with rt.app_engine.connect() as conn:
        for stored in conn.execute(select(payment_settings.c.sealed_config)).scalars():
            key_id = sealed_key_id(stored)
            if key_id is not None:
                counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def reseal_settings(rt: Runtime) -> int:
    """Re-seal settings under an older key with the primary (after a rotation), each row
    only if it still holds what was read, so a change meanwhile wins."""
    primary = rt.keyring.primary(SEAL_PURPOSE).id
    with rt.app_engine.connect() as conn:
        rows = conn.execute(select(payment_settings.c.site_id, payment_settings.c.sealed_config))
        stale = [r for r in rows if sealed_key_id(r.sealed_config) != primary]
    done = 0
    for row in stale:
        try:
            text = open_text(rt.keyring, _aad(row.site_id), row.sealed_config)
        except VaultError:
            log.error("the payment settings of site %s do not open; left as they are", row.site_id)
            continue  # its key stays in use, so it is not retired under it
        with rt.app_engine.begin() as conn:
            done += conn.execute(
                update(payment_settings)
                .where(
                    payment_settings.c.site_id == row.site_id,
                    payment_settings.c.sealed_config == row.sealed_config,
                )
                .values(sealed_config=seal_text(rt.keyring, _aad(row.site_id), text))
            ).rowcount
    return done


def _shown(config: Mapping[str, Any], updated_at: str) -> dict[str, Any]:
    key = config.get("secret_key")
    return {
        "provider": config["provider"],
        "base_url": config.get("api_base") or config.get("url") or STRIPE_API,
        "key_last4": key[-4:] if isinstance(key, str) else None,
        "erase_after_forward": config.get("erase_after_forward", True),
        "updated_at": updated_at,
    }


def validated(body: Mapping[str, Any], *, allow_http: bool = False) -> dict[str, Any]:
    """The setting to store, or ValidationFailed (422) naming every bad field."""
    problems: dict[str, str] = {}
    provider = body.get("provider")
    config: dict[str, Any] = {"provider": provider}
    known = {"provider", "erase_after_forward"}
    erase = body.get("erase_after_forward", True)
    if not isinstance(erase, bool):
        problems["erase_after_forward"] = "Must be true or false."
    config["erase_after_forward"] = erase
    if provider == "stripe":
        known |= {"secret_key", "api_base"}
        key = body.get("secret_key")
        if not isinstance(key, str) or not _STRIPE_KEY.fullmatch(key):
            problems["secret_key"] = "Must be a Stripe secret or restricted key (sk_…, rk_…)."  # noqa: S105
        config["secret_key"] = key
        base = body.get("api_base")
        if base is not None:
            problem = _url_problem(base, allow_http)
            if problem:
                problems["api_base"] = problem
            config["api_base"] = base
    elif provider == "https":
        known |= {"url", "headers", "body_template", "keep"}
        problem = _url_problem(body.get("url"), allow_http)
        if problem:
            problems["url"] = problem
        config["url"] = body.get("url")
        headers = body.get("headers", {})
        if not (
            isinstance(headers, dict)
            and len(headers) <= MAX_HEADERS
            and all(_HEADER.fullmatch(k) and isinstance(v, str) for k, v in headers.items())
            and not any("\r" in v or "\n" in v for v in headers.values())
        ):
            problems["headers"] = f"Must be at most {MAX_HEADERS} header names and text values."
        config["headers"] = headers
        template = body.get("body_template")
        if not isinstance(template, dict) or not template:
            problems["body_template"] = 'Must be a JSON object naming fields as {"$field": "…"}.'
        elif len(json.dumps(template)) > MAX_TEMPLATE_BYTES:
            problems["body_template"] = f"Must be at most {MAX_TEMPLATE_BYTES} bytes of JSON."
        config["body_template"] = template
        keep = body.get("keep", ["/id", "/status"])
        if not (
            isinstance(keep, list)
            and len(keep) <= MAX_POINTERS
            and all(isinstance(p, str) and _POINTER.fullmatch(p) for p in keep)
        ):
            problems["keep"] = f"Must be a list of at most {MAX_POINTERS} JSON pointers (/id)."
        config["keep"] = keep
    else:
        problems["provider"] = 'Must be "stripe" or "https".'
    for name in body:
        if name not in known:
            problems[name] = "Not a setting of this provider."
    if problems:
        raise ValidationFailed("Some payment settings need fixing.", fields=problems)
    return config


def _url_problem(url: object, allow_http: bool) -> str | None:
    if not isinstance(url, str) or len(url) > 500:
        return "Must be an https:// URL."
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    # Plain http only in development and tests, and only to this machine (an emulator).
    if allow_http and parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return None
    return "Must be an https:// URL."
