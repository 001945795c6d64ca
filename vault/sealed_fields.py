"""A map of field name -> value, each value sealed on its own with AAD binding its place.

Sealing per field means a ciphertext copied onto another record, site or field fails to
open, which is what lets the vault hand out nothing but what it was asked for.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Protocol

from vault.aad import field_aad
from vault.errors import VaultError
from vault.keyring import Keyring


class Cipher(Protocol):
    """Anything that seals and opens envelopes by purpose: a keyring, or a data key."""

    def seal(self, purpose: str, plaintext: bytes, aad: bytes) -> bytes: ...

    def open(self, purpose: str, envelope: bytes, aad: bytes) -> bytes: ...


def seal_fields(
    keyring: Cipher, purpose: str, site_id: str, record_id: str, values: Mapping[str, str]
) -> bytes:
    sealed = {
        name: base64.b64encode(
            keyring.seal(purpose, value.encode(), field_aad(purpose, site_id, record_id, name))
        ).decode()
        for name, value in values.items()
    }
    return json.dumps(sealed, separators=(",", ":"), sort_keys=True).encode()


def open_fields(
    keyring: Cipher, purpose: str, site_id: str, record_id: str, blob: bytes
) -> dict[str, str]:
    try:
        sealed = json.loads(blob)
        if not isinstance(sealed, dict):
            raise VaultError()
        return {
            name: keyring.open(
                purpose, base64.b64decode(envelope), field_aad(purpose, site_id, record_id, name)
            ).decode()
            for name, envelope in sealed.items()
        }
    except (ValueError, TypeError, UnicodeDecodeError):
        raise VaultError() from None


def key_ids(blob: bytes) -> set[str]:
    """Which keys a sealed map depends on (for `keys list` and rotation)."""
    sealed = json.loads(blob)
    return {Keyring.key_id_of(base64.b64decode(env)) for env in sealed.values()}
