"""Data keys per site and month: what makes crypto-shredding possible.

Stored answers are sealed under a data key of their site and month. The data key is
wrapped by the keyring's primary `data` key and kept in the keystore (by default the app
DB, never the vault DB). Destroying a month's data key makes every copy of that month's
data (a vault DB backup included) unreadable, and key rotation only re-wraps data keys,
never the data.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from vault.aad import bind
from vault.errors import VaultError
from vault.keyfile import KeyringFile
from vault.keyring import Keyring, envelope_key_id, open_envelope, seal_envelope
from vault.schema import data_keys

_WRAP_PURPOSE = "data"
_CACHE_TTL_S = 60.0  # bounds how long a destroyed key lingers in another process's memory


def period_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _wrap_aad(site_id: str, period: str, key_id: str) -> bytes:
    return bind("data-key", site_id, period, key_id)


@dataclass(frozen=True)
class DataKey:
    id: str
    site_id: str
    period: str
    secret: bytes

    def __repr__(self) -> str:
        return f"DataKey(id={self.id!r}, site_id={self.site_id!r}, period={self.period!r})"

    def seal(self, purpose: str, plaintext: bytes, aad: bytes) -> bytes:
        return seal_envelope(bytes.fromhex(self.id), self.secret, purpose, plaintext, aad)

    def open(self, purpose: str, envelope: bytes, aad: bytes) -> bytes:
        if envelope_key_id(envelope) != bytes.fromhex(self.id):
            raise VaultError()
        return open_envelope(self.secret, purpose, envelope, aad)


class DataKeys:
    """Get-or-create for writing; look-up by the id in an envelope for reading."""

    def __init__(self, engine: Engine, keyring: KeyringFile | Keyring) -> None:
        self.engine = engine
        self._keyring = keyring
        self._lock = threading.Lock()
        self._by_id: dict[str, tuple[float, DataKey]] = {}
        self._writing: dict[tuple[str, str], tuple[float, DataKey]] = {}

    # -- writing -----------------------------------------------------------------------
    def for_writing(self, site_id: str, period: str) -> DataKey:
        cached = self._writing.get((site_id, period))
        if cached and time.monotonic() - cached[0] < _CACHE_TTL_S:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(data_keys)
                .where(
                    data_keys.c.site_id == site_id,
                    data_keys.c.period == period,
                    data_keys.c.state == "active",
                )
                .order_by(data_keys.c.created_at)
                .limit(1)
            ).first()
        key = self._unwrap(row) if row is not None else self._create(site_id, period)
        with self._lock:
            self._writing[(site_id, period)] = (time.monotonic(), key)
            self._by_id[key.id] = (time.monotonic(), key)
        return key

    def _create(self, site_id: str, period: str) -> DataKey:
        # Two workers may race to create a month's key; both keys are valid and both are
        # destroyed together with their month, so no lock is needed.
        key = DataKey(secrets.token_hex(8), site_id, period, AESGCM.generate_key(bit_length=256))
        wrapping = self._keyring.primary(_WRAP_PURPOSE)
        wrapped = self._keyring.seal(_WRAP_PURPOSE, key.secret, _wrap_aad(site_id, period, key.id))
        with self.engine.begin() as conn:
            conn.execute(
                insert(data_keys).values(
                    id=key.id,
                    site_id=site_id,
                    period=period,
                    wrapped=wrapped,
                    wrapping_key_id=wrapping.id,
                    state="active",
                    created_at=datetime.now(UTC),
                )
            )
        return key

    def _unwrap(self, row: Any) -> DataKey:
        if row.state != "active" or row.wrapped is None:
            raise VaultError()
        secret = self._keyring.open(
            _WRAP_PURPOSE, row.wrapped, _wrap_aad(row.site_id, row.period, row.id)
        )
        return DataKey(row.id, row.site_id, row.period, secret)

    # -- reading -----------------------------------------------------------------------
    def open(self, purpose: str, envelope: bytes, aad: bytes) -> bytes:
        """Open an envelope sealed by any data key (the Cipher face used by the store)."""
        key_id = envelope_key_id(envelope).hex()
        return self.get(key_id).open(purpose, envelope, aad)

    def seal(self, purpose: str, plaintext: bytes, aad: bytes) -> bytes:
        raise VaultError()  # writing always names its site and month: use for_writing()

    def get(self, key_id: str) -> DataKey:
        cached = self._by_id.get(key_id)
        if cached and time.monotonic() - cached[0] < _CACHE_TTL_S:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(data_keys).where(data_keys.c.id == key_id)).first()
        if row is None:
            raise VaultError()
        key = self._unwrap(row)
        with self._lock:
            self._by_id[key_id] = (time.monotonic(), key)
        return key

    # -- shredding and rotation ----------------------------------------------------------
    def destroy(self, key_ids: Iterable[str]) -> list[str]:
        ids = list(key_ids)
        if not ids:
            return []
        with self.engine.begin() as conn:
            conn.execute(
                update(data_keys)
                .where(data_keys.c.id.in_(ids), data_keys.c.state == "active")
                .values(state="destroyed", wrapped=None, destroyed_at=datetime.now(UTC))
            )
        with self._lock:
            for key_id in ids:
                self._by_id.pop(key_id, None)
            self._writing = {k: v for k, v in self._writing.items() if v[1].id not in ids}
        return ids

    def active(self, *, before_period: str | None = None) -> list[tuple[str, str, str]]:
        """(id, site_id, period) of live keys, optionally only those of earlier months."""
        query = select(data_keys.c.id, data_keys.c.site_id, data_keys.c.period).where(
            data_keys.c.state == "active"
        )
        if before_period is not None:
            query = query.where(data_keys.c.period < before_period)
        with self.engine.connect() as conn:
            return [(r.id, r.site_id, r.period) for r in conn.execute(query)]

    def rewrap(self, batch: int = 500) -> int:
        """Re-wrap data keys still under an older `data` key with the current primary."""
        primary = self._keyring.primary(_WRAP_PURPOSE)
        done = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(data_keys)
                    .where(
                        data_keys.c.state == "active",
                        data_keys.c.wrapping_key_id != primary.id,
                    )
                    .limit(batch)
                ).all()
            if not rows:
                return done
            with self.engine.begin() as conn:
                for row in rows:
                    key = self._unwrap(row)
                    conn.execute(
                        update(data_keys)
                        .where(
                            data_keys.c.id == row.id,
                            data_keys.c.wrapping_key_id == row.wrapping_key_id,
                        )
                        .values(
                            wrapped=self._keyring.seal(
                                _WRAP_PURPOSE,
                                key.secret,
                                _wrap_aad(key.site_id, key.period, key.id),
                            ),
                            wrapping_key_id=primary.id,
                        )
                    )
            done += len(rows)

    def usage_by_wrapping_key(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(data_keys.c.wrapping_key_id, func.count())
                .where(data_keys.c.state == "active")
                .group_by(data_keys.c.wrapping_key_id)
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def describe(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(data_keys).order_by(data_keys.c.site_id, data_keys.c.period))
            return [
                {
                    "id": r.id,
                    "site_id": r.site_id,
                    "period": r.period,
                    "state": r.state,
                    "wrapped_by": r.wrapping_key_id,
                }
                for r in rows
            ]
