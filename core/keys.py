"""Key rotation as the operator sees it: rotate, re-wrap in the background, retire, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import audit, mfa, payment_settings
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
    """Re-wrap data keys and re-seal TOTP secrets and payment settings under the primary;
    retire older keys nothing depends on (looked at last, so a secret that would not
    re-seal keeps its key)."""
    rewrapped = rt.vault.data_keys.rewrap()
    resealed = mfa.reseal_secrets(rt)
    resealed_payments = payment_settings.reseal_settings(rt)
    in_use = (
        set(rt.vault.data_keys.usage_by_wrapping_key())
        | set(mfa.secrets_by_key(rt))
        | set(payment_settings.settings_by_key(rt))
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
        "retired": retired,
    }


def describe(rt: Runtime) -> dict[str, Any]:
    """Every key, its state and what it still protects."""
    wrapped_by = rt.vault.data_keys.usage_by_wrapping_key()
    totp_by = mfa.secrets_by_key(rt)
    rows_by_data_key = rt.vault.count_by_data_key()

    def protects(purpose: str, key_id: str) -> str:
        if purpose == "data":
            return f"{wrapped_by.get(key_id, 0)} data keys, {totp_by.get(key_id, 0)} TOTP secrets"
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
                "protects": protects(k.purpose, k.id) if k.state != "retired" else "nothing",
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
