"""The keyring: separate AES-256-GCM keys per purpose, primary first, every active key decrypts.

Envelope layout (all integers big-endian)::

    version (1 byte = 0x01) | key id (8 bytes) | nonce (12 bytes) | ciphertext + GCM tag

The version byte and key id are authenticated too (they are part of the GCM associated
data), and so is the purpose, so a data ciphertext can never be opened as an event.
Callers never choose nonces.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import VaultError

PURPOSES = ("event", "data", "offrecord")
VERSION = 0x01
_KEY_ID_LEN = 8
_NONCE_LEN = 12
_HEADER_LEN = 1 + _KEY_ID_LEN + _NONCE_LEN
_FILE_FORMAT = 1
_STATES = ("primary", "active", "retired")


@dataclass(frozen=True)
class Key:
    id: str  # 16 hex characters
    purpose: str
    secret: bytes
    state: str
    created_at: str

    def __repr__(self) -> str:
        return f"Key(id={self.id!r}, purpose={self.purpose!r}, state={self.state!r}, secret=***)"

    @classmethod
    def generate(cls, purpose: str, state: str = "primary") -> Key:
        return cls(
            id=secrets.token_hex(_KEY_ID_LEN),
            purpose=purpose,
            secret=AESGCM.generate_key(bit_length=256),
            state=state,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )


def _parse_key_id(key_id: str) -> bytes:
    try:
        raw = bytes.fromhex(key_id)
    except (ValueError, TypeError):
        raise ValueError(f"key id {key_id!r} is not hex") from None
    if len(raw) != _KEY_ID_LEN:
        raise ValueError(f"key id {key_id!r} is not {_KEY_ID_LEN} bytes")
    return raw


def _associated_data(header: bytes, purpose: str, aad: bytes) -> bytes:
    return header[: 1 + _KEY_ID_LEN] + purpose.encode() + b"\x00" + aad


def seal_envelope(
    key_id: bytes,
    secret: bytes,
    purpose: str,
    plaintext: bytes,
    aad: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """One envelope under one key; shared by the keyring and the per-site data keys."""
    nonce = os.urandom(_NONCE_LEN) if nonce is None else nonce
    header = bytes([VERSION]) + key_id + nonce
    return header + AESGCM(secret).encrypt(nonce, plaintext, _associated_data(header, purpose, aad))


def envelope_key_id(envelope: bytes) -> bytes:
    """The key id an envelope names, or VaultError when it is not an envelope at all."""
    if len(envelope) < _HEADER_LEN + 16 or envelope[0] != VERSION:
        raise VaultError()
    return envelope[1 : 1 + _KEY_ID_LEN]


def open_envelope(secret: bytes, purpose: str, envelope: bytes, aad: bytes) -> bytes:
    envelope_key_id(envelope)
    header = envelope[:_HEADER_LEN]
    nonce = envelope[1 + _KEY_ID_LEN : _HEADER_LEN]
    try:
        return AESGCM(secret).decrypt(
            nonce, envelope[_HEADER_LEN:], _associated_data(header, purpose, aad)
        )
    except Exception:  # InvalidTag and friends: one answer for every failure
        raise VaultError() from None


class Keyring:
    """Keys by purpose. `seal` uses the purpose's primary key; `open` any non-retired key."""

    def __init__(self, keys: Iterable[Key], *, generated: str | None = None) -> None:
        self.generated = generated
        self._keys: dict[str, list[Key]] = {p: [] for p in PURPOSES}
        seen: set[bytes] = set()
        for key in keys:
            raw_id = _parse_key_id(key.id)
            if key.purpose not in self._keys or key.state not in _STATES or len(key.secret) != 32:
                raise ValueError(f"unusable key {key.id!r} in keyring")
            if raw_id in seen:
                # a second key with one id would shadow the first and strand its data
                raise ValueError(f"two keys share the id {key.id!r}")
            seen.add(raw_id)
            self._keys[key.purpose].append(key)
        for purpose, ring in self._keys.items():
            primaries = [k for k in ring if k.state == "primary"]
            if len(primaries) != 1:
                raise ValueError(f"keyring needs exactly one primary {purpose!r} key")
            ring.sort(key=lambda k: _STATES.index(k.state))
        self._by_id = {bytes.fromhex(k.id): k for ring in self._keys.values() for k in ring}

    def __repr__(self) -> str:
        counts = ", ".join(f"{p}={len(r)}" for p, r in self._keys.items())
        return f"Keyring({counts}, generated={self.generated!r})"

    @classmethod
    def generate(cls, *, generated: str | None = "development") -> Keyring:
        return cls([Key.generate(p) for p in PURPOSES], generated=generated)

    def keys(self, purpose: str | None = None) -> list[Key]:
        if purpose is None:
            return [k for ring in self._keys.values() for k in ring]
        return list(self._keys[purpose])

    def primary(self, purpose: str) -> Key:
        return self._keys[purpose][0]

    # -- envelopes -----------------------------------------------------------------
    def seal(self, purpose: str, plaintext: bytes, aad: bytes) -> bytes:
        return self._seal_with_nonce(purpose, plaintext, aad, os.urandom(_NONCE_LEN))

    def _seal_with_nonce(self, purpose: str, plaintext: bytes, aad: bytes, nonce: bytes) -> bytes:
        # Only the JSON test vectors call this directly; everything else gets a random nonce.
        key = self.primary(purpose)
        return seal_envelope(bytes.fromhex(key.id), key.secret, purpose, plaintext, aad, nonce)

    def open(self, purpose: str, envelope: bytes, aad: bytes) -> bytes:
        key = self.find(envelope_key_id(envelope))
        if key is None or key.purpose != purpose or key.state == "retired":
            raise VaultError()
        return open_envelope(key.secret, purpose, envelope, aad)

    def find(self, key_id: bytes) -> Key | None:
        return self._by_id.get(key_id)

    @staticmethod
    def key_id_of(envelope: bytes) -> str:
        return envelope[1 : 1 + _KEY_ID_LEN].hex()

    # -- rotation ------------------------------------------------------------------
    def rotated(self, purpose: str) -> Keyring:
        """A new keyring whose `purpose` has a fresh primary; the old primary stays active."""
        keys = [
            replace(k, state="active") if k.purpose == purpose and k.state == "primary" else k
            for k in self.keys()
        ]
        return Keyring([Key.generate(purpose), *keys], generated=self.generated)

    # -- file ----------------------------------------------------------------------
    def to_json(self) -> dict[str, object]:
        return {
            "format": _FILE_FORMAT,
            "generated": self.generated,
            "keys": [
                {
                    "id": k.id,
                    "purpose": k.purpose,
                    "state": k.state,
                    "created_at": k.created_at,
                    "secret": base64.b64encode(k.secret).decode(),
                }
                for k in self.keys()
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> Keyring:
        if not isinstance(data, Mapping):
            raise ValueError("not a secureforms keyring file")
        rows = data.get("keys")
        if data.get("format") != _FILE_FORMAT or not isinstance(rows, list):
            raise ValueError("not a secureforms keyring file")
        keys = []
        try:
            for row in rows:
                keys.append(
                    Key(
                        id=str(row["id"]).lower(),
                        purpose=str(row["purpose"]),
                        state=str(row["state"]),
                        created_at=str(row.get("created_at", "")),
                        secret=base64.b64decode(row["secret"], validate=True),
                    )
                )
        except (KeyError, TypeError, AttributeError, binascii.Error):
            raise ValueError("a key row of the keyring file is malformed") from None
        generated = data.get("generated")
        return cls(keys, generated=str(generated) if generated else None)

    def save(self, path: Path, *, exclusive: bool = False) -> None:
        """Write atomically with mode 0600: the file never exists with looser permissions.

        `exclusive` raises FileExistsError instead of replacing an existing file, so two
        processes starting at once cannot end up with different keys.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keyring-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(self.to_json(), fh, indent=2)
            if exclusive:
                os.link(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)


class KeyringError(Exception):
    """The keyring file is missing, unreadable, or not allowed in this environment."""


def load_keyring(path: Path, *, allow_generate: bool) -> Keyring:
    """Load the key file; in development/test create one (0600) when it is missing.

    Production (`allow_generate=False`) refuses both a missing file and a file that was
    generated as a development default.
    """
    if not path.exists():
        if not allow_generate:
            raise KeyringError(f"keyring file {path} does not exist")
        # another process may make it first: then use theirs
        with contextlib.suppress(FileExistsError):
            Keyring.generate(generated="development").save(path, exclusive=True)
    try:
        keyring = Keyring.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"keyring file {path} is unreadable: {exc.__class__.__name__}") from None
    if keyring.generated and not allow_generate:
        raise KeyringError(f"keyring file {path} is a generated development keyring")
    return keyring
