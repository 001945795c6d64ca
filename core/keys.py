"""Key rotation as the operator sees it: rotate, re-wrap in the background, retire, list,
and purge retired keys' secret material once nothing uses them."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from core import audit, chatwoot, mfa, payment_settings, webhooks
from core.errors import Conflict, NotFound
from core.runtime import Runtime
from core.schema import sites
from vault import PURPOSES


def rotate(rt: Runtime, purposes: tuple[str, ...] = PURPOSES) -> list[dict[str, str]]:
    new = rt.keyring.rotate(purposes)
    for site_id in _site_ids(rt):
        audit.record(
            rt,
            site_id=site_id,
            type="keys.rotated",
            resource=",".join(f"{k.purpose}:{k.id}" for k in new),
        )
    return [{"id": k.id, "purpose": k.purpose, "state": k.state} for k in new]


def rewrap_and_retire(rt: Runtime) -> dict[str, Any]:
    """Re-wrap data keys and re-seal TOTP secrets, payment settings and webhook secrets
    under the primary; retire older keys nothing depends on (looked at last, so a secret
    that would not re-seal keeps its key)."""
    rewrapped = rt.vault.data_keys.rewrap()
    resealed = mfa.reseal_secrets(rt)
    resealed_payments = payment_settings.reseal_settings(rt)
    resealed_webhooks = webhooks.reseal_secrets(rt)
    resealed_chatwoot = chatwoot.reseal_secrets(rt)
    in_use = (
        set(rt.vault.data_keys.usage_by_wrapping_key())
        | set(mfa.secrets_by_key(rt))
        | set(payment_settings.settings_by_key(rt))
        | set(webhooks.secrets_by_key(rt))
        | set(chatwoot.secrets_by_key(rt))
    )
    unused = {k.id for k in rt.keyring.keys("data") if k.state == "active" and k.id not in in_use}
    unused |= rt.keyring.stale_short_lived()
    try:
        retired = rt.keyring.retire(unused)
    except PermissionError:  # a read-only key file: the operator retires with the CLI
        retired = []
    return {
        "rewrapped": rewrapped,
        "resealed_totp_secrets": resealed,
        "resealed_payment_settings": resealed_payments,
        "resealed_webhook_secrets": resealed_webhooks,
        "resealed_chatwoot_secrets": resealed_chatwoot,
        "retired": retired,
    }


log = logging.getLogger("core.keys")


def _uses(rt: Runtime) -> dict[str, str]:
    """What each data-purpose key of the keyring still protects, by key id (if anything)."""
    wrapped_by = rt.vault.data_keys.usage_by_wrapping_key()
    totp_by = mfa.secrets_by_key(rt)
    return {
        key_id: f"{wrapped_by.get(key_id, 0)} data keys, {totp_by.get(key_id, 0)} TOTP secrets"
        for key_id in set(wrapped_by) | set(totp_by)
    }


def purge_retired(rt: Runtime, key_ids: list[str] | None = None) -> list[str]:
    """Remove retired keys (all of them, or those named) from the keyring file.

    Refused as a whole (Conflict, nothing removed) when a chosen key still protects
    something, NotFound when a named key is not in the keyring, Conflict when it is not
    retired. Answers the ids removed; the audit trail and the log get the ids only.
    """
    keys = {k.id: k for k in rt.keyring.keys()}
    if key_ids is None:
        chosen = [k for k in keys if keys[k].state == "retired"]
    else:
        missing = [k for k in key_ids if k not in keys]
        if missing:
            raise NotFound(f"No key {', '.join(missing)} in the keyring.")
        live = [k for k in key_ids if keys[k].state != "retired"]
        if live:
            raise Conflict(f"Key {', '.join(live)} is not retired; only retired keys are purged.")
        chosen = list(dict.fromkeys(key_ids))
    uses = _uses(rt)
    busy = [f"{k} ({uses[k]})" for k in chosen if k in uses]
    if busy:
        raise Conflict(
            f"Key {', '.join(busy)} still protects data: nothing was purged. Let the re-wrap "
            "run (`secureforms keys rotate --wait` re-wraps now), or purge other keys by --key."
        )
    purged = rt.keyring.purge(set(chosen))
    if purged:
        log.info("purged the secret material of retired keys %s", ", ".join(purged))
        for site_id in _site_ids(rt):
            audit.record(
                rt,
                site_id=site_id,
                type="keys.purged",
                resource=",".join(f"{keys[k].purpose}:{k}" for k in purged),
            )
    return purged


def describe(rt: Runtime) -> dict[str, Any]:
    """Every key, its state and what it still protects."""
    uses = _uses(rt)
    rows_by_data_key = rt.vault.count_by_data_key()

    def protects(purpose: str, key_id: str, state: str) -> str:
        if purpose == "data":
            # A retired key can still protect something (retired by hand, or a restored
            # backup): then it says so, and `keys purge-retired` leaves it alone.
            return uses.get(
                key_id, "nothing" if state == "retired" else "0 data keys, 0 TOTP secrets"
            )
        if state == "retired":
            return "nothing"
        if purpose == "event":
            return "submission events waiting in the queue"
        return "off-the-record answers (minutes)"

    return {
        "keyring": [
            {
                "id": k.id,
                "purpose": k.purpose,
                "state": k.state,
                "created_at": k.created_at,
                "protects": protects(k.purpose, k.id, k.state),
            }
            for k in rt.keyring.keys()
        ],
        "data_keys": [
            {**row, "submissions": rows_by_data_key.get(row["id"], 0)}
            for row in rt.vault.data_keys.describe()
        ],
    }


def _site_ids(rt: Runtime) -> list[str]:
    with rt.app_engine.connect() as conn:
        return [r.id for r in conn.execute(select(sites.c.id))]
