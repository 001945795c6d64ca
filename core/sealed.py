"""Short secrets kept in app DB columns, sealed at rest: `sealed:v1:` then the base64 of a
keyring envelope under the primary `data` key, whose associated data says where the value
belongs (site, owner, purpose), so a value copied to another row or column won't open.

Used for TOTP secrets (core.mfa) and a site's payment processor settings (core.payment_settings).
"""

from __future__ import annotations

import base64
import binascii

from vault import Cipher, Keyring, VaultError

SEALED_PREFIX = "sealed:v1:"
SEAL_PURPOSE = "data"


def seal_text(keyring: Cipher, aad: bytes, text: str) -> str:
    envelope = keyring.seal(SEAL_PURPOSE, text.encode(), aad)
    return SEALED_PREFIX + base64.b64encode(envelope).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def open_text(keyring: Cipher, aad: bytes, stored: str) -> str:
    """What a sealed value holds; VaultError (saying nothing more) if it won't open."""
    if not is_sealed(stored):
        raise VaultError()
    try:
        envelope = base64.b64decode(stored[len(SEALED_PREFIX) :], validate=True)
        return keyring.open(SEAL_PURPOSE, envelope, aad).decode()
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise VaultError() from None


def sealed_key_id(stored: str | None) -> str | None:
    """The keyring key a stored value is sealed under; None for nothing or plaintext."""
    if not stored or not is_sealed(stored):
        return None
    try:
        envelope = base64.b64decode(stored[len(SEALED_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    # A version byte, then the key id (8 bytes): anything shorter names no key.
    return Keyring.key_id_of(envelope) if len(envelope) >= 9 else None
