"""Generate envelope.json, the keyring's known-answer vectors. Run once, review, commit.

    cd /work/main && PYTHONPATH=. .venv/bin/python tests/vault/vectors/make_vectors.py

Everything (key ids, secrets, nonces) is derived from fixed labels, so re-running writes
the same file; a change in the output means the envelope format changed, which must
never happen silently (old envelopes in the vault DB would stop opening).
Not collected by pytest: the file name does not start with `test_`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "envelope.json"


def _derive(kind: str, label: str, length: int) -> bytes:
    return hashlib.sha256(f"secureforms test vector {kind}: {label}".encode()).digest()[:length]


def main() -> None:
    sys.path.insert(0, str(HERE.parents[2]))
    from vault.aad import bind, field_aad
    from vault.keyring import PURPOSES, Key, Keyring

    def key(label: str, purpose: str, state: str = "primary") -> Key:
        return Key(
            id=_derive("key id", label, 8).hex(),
            purpose=purpose,
            secret=_derive("secret", label, 32),
            state=state,
            created_at="2025-01-01T00:00:00+00:00",
        )

    def ring_with(primary: Key) -> Keyring:
        others = [key(f"filler {p}", p) for p in PURPOSES if p != primary.purpose]
        return Keyring([primary, *others], generated="test vectors")

    def seal(k: Key, plaintext: bytes, aad: bytes, nonce_label: str) -> tuple[bytes, bytes]:
        nonce = _derive("nonce", nonce_label, 12)
        return nonce, ring_with(k)._seal_with_nonce(k.purpose, plaintext, aad, nonce)

    site = "7d0c5a36-3b8e-4f0e-9d55-2f1b8f6c9a01"
    record = "0b8f1c2e-6a4d-4c1b-8e7f-5a9d3c2b1e00"
    data_key = key("data primary", "data")
    event_key = key("event primary", "event")
    offrecord_key = key("offrecord primary", "offrecord")
    valid_cases: list[tuple[str, Key, bytes, str, bytes]] = [
        (
            "card number in a data field, AAD binds site/record/field",
            data_key,
            b"4111111111111111",
            "utf8",
            field_aad("data", site, record, "card_number"),
        ),
        (
            "an event payload",
            event_key,
            b'{"type":"form.submitted","form":"payment"}',
            "utf8",
            bind("event", site),
        ),
        (
            "a CVV in the off-the-record store",
            offrecord_key,
            b"737",
            "utf8",
            field_aad("offrecord", site, record, "cvv"),
        ),
        ("empty plaintext and empty AAD", data_key, b"", "utf8", b""),
        (
            "non-ASCII text",
            data_key,
            "José Ñúñez-Øster 🙂".encode(),
            "utf8",
            field_aad("data", site, record, "name"),
        ),
        (
            "every byte value as plaintext, binary AAD",
            event_key,
            bytes(range(256)),
            "hex",
            bytes(range(255, -1, -3)),
        ),
        (
            "a different data key",
            key("data second", "data"),
            b"5500 0000 0000 0004",
            "utf8",
            field_aad("data", site, record, "card_number"),
        ),
    ]
    valid: list[dict[str, Any]] = []
    for i, (description, k, plaintext, encoding, aad) in enumerate(valid_cases):
        nonce, envelope = seal(k, plaintext, aad, f"valid {i}")
        valid.append(
            {
                "description": description,
                "key_id": k.id,
                "secret": base64.b64encode(k.secret).decode(),
                "purpose": k.purpose,
                "plaintext": plaintext.decode() if encoding == "utf8" else plaintext.hex(),
                "plaintext_encoding": encoding,
                "aad": aad.hex(),
                "nonce": nonce.hex(),
                "envelope": envelope.hex(),
            }
        )

    base_aad = field_aad("data", site, record, "card_number")
    _, base = seal(data_key, b"4111111111111111", base_aad, "invalid base")

    def flip(envelope: bytes, index: int, mask: int = 0x01) -> bytes:
        out = bytearray(envelope)
        out[index] ^= mask
        return bytes(out)

    # (description, envelope, key in the keyring, its state, purpose to open as, aad)
    invalid_cases: list[tuple[str, bytes, Key, str, str, bytes]] = [
        ("flipped bit in the last tag byte", flip(base, -1), data_key, "primary", "data", base_aad),
        (
            "flipped bit in the first tag byte",
            flip(base, -16),
            data_key,
            "primary",
            "data",
            base_aad,
        ),
        ("flipped bit in the ciphertext", flip(base, 21), data_key, "primary", "data", base_aad),
        ("flipped bit in the nonce", flip(base, 9), data_key, "primary", "data", base_aad),
        ("wrong version byte 0x02", b"\x02" + base[1:], data_key, "primary", "data", base_aad),
        ("wrong version byte 0x00", b"\x00" + base[1:], data_key, "primary", "data", base_aad),
        (
            "unknown key id",
            base[:1] + _derive("key id", "nobody", 8) + base[9:],
            data_key,
            "primary",
            "data",
            base_aad,
        ),
        ("flipped bit in the key id", flip(base, 4), data_key, "primary", "data", base_aad),
        ("truncated by one byte", base[:-1], data_key, "primary", "data", base_aad),
        ("header and 15 tag bytes only", base[:36], data_key, "primary", "data", base_aad),
        ("header only", base[:21], data_key, "primary", "data", base_aad),
        ("empty envelope", b"", data_key, "primary", "data", base_aad),
        ("one extra byte appended", base + b"\x00", data_key, "primary", "data", base_aad),
        (
            "AAD of another record",
            base,
            data_key,
            "primary",
            "data",
            field_aad("data", site, "0b8f1c2e-6a4d-4c1b-8e7f-5a9d3c2b1e01", "card_number"),
        ),
        (
            "AAD of another site",
            base,
            data_key,
            "primary",
            "data",
            field_aad("data", "7d0c5a36-3b8e-4f0e-9d55-2f1b8f6c9a02", record, "card_number"),
        ),
        (
            "AAD of another field",
            base,
            data_key,
            "primary",
            "data",
            field_aad("data", site, record, "cvv"),
        ),
        ("empty AAD", base, data_key, "primary", "data", b""),
        ("opened as another purpose (key lookup)", base, data_key, "primary", "event", base_aad),
        (
            "same key id and secret registered under another purpose (purpose is in the AAD)",
            seal(event_key, b"4111111111111111", base_aad, "invalid purpose")[1],
            Key(event_key.id, "data", event_key.secret, "primary", event_key.created_at),
            "primary",
            "data",
            base_aad,
        ),
        ("sealed with a key that is now retired", base, data_key, "retired", "data", base_aad),
        (
            "same key id, different secret",
            base,
            Key(data_key.id, "data", _derive("secret", "impostor", 32), "primary", ""),
            "primary",
            "data",
            base_aad,
        ),
    ]
    invalid = [
        {
            "description": description,
            "key_id": k.id,
            "secret": base64.b64encode(k.secret).decode(),
            "key_purpose": k.purpose,
            "key_state": state,
            "open_purpose": open_purpose,
            "aad": aad.hex(),
            "envelope": envelope.hex(),
        }
        for description, envelope, k, state, open_purpose, aad in invalid_cases
    ]

    document = {
        "comment": (
            "Known-answer vectors for vault.keyring envelopes: "
            "0x01 | key id (8) | nonce (12) | AES-256-GCM(ciphertext + tag), with "
            "associated data = 0x01 | key id | purpose | 0x00 | aad. Test keys only. "
            "Generated by make_vectors.py; 'invalid' envelopes must raise VaultError."
        ),
        "valid": valid,
        "invalid": invalid,
    }
    OUT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(valid)} valid and {len(invalid)} invalid vectors to {OUT}")


if __name__ == "__main__":
    main()
