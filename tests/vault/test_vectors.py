"""Known-answer tests for the envelope format, from vectors/envelope.json.

The vectors pin the byte layout: if sealing ever produces different bytes for the same
key, nonce and inputs, envelopes already stored in the vault DB would stop opening.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import VaultError
from vault.keyring import PURPOSES, Key, Keyring

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope.json").read_text())
VALID: list[dict[str, Any]] = VECTORS["valid"]
INVALID: list[dict[str, Any]] = VECTORS["invalid"]


def _key(vector: dict[str, Any], purpose: str, state: str) -> Key:
    return Key(
        id=vector["key_id"],
        purpose=purpose,
        secret=base64.b64decode(vector["secret"], validate=True),
        state=state,
        created_at="2025-01-01T00:00:00+00:00",
    )


def _keyring(key: Key) -> Keyring:
    """`key` plus freshly generated keys so that every purpose has exactly one primary."""
    fillers = [Key.generate(p) for p in PURPOSES if p != key.purpose or key.state != "primary"]
    return Keyring([key, *fillers], generated="test")


def _plaintext(vector: dict[str, Any]) -> bytes:
    if vector["plaintext_encoding"] == "utf8":
        return str(vector["plaintext"]).encode()
    assert vector["plaintext_encoding"] == "hex"
    return bytes.fromhex(vector["plaintext"])


def test_the_vector_file_is_not_empty() -> None:
    assert len(VALID) >= 5
    assert len(INVALID) >= 6
    assert {v["purpose"] for v in VALID} == set(PURPOSES)


@pytest.mark.parametrize("vector", VALID, ids=[v["description"] for v in VALID])
def test_seal_reproduces_the_vector(vector: dict[str, Any]) -> None:
    keyring = _keyring(_key(vector, vector["purpose"], "primary"))
    envelope = keyring._seal_with_nonce(
        vector["purpose"],
        _plaintext(vector),
        bytes.fromhex(vector["aad"]),
        bytes.fromhex(vector["nonce"]),
    )
    assert envelope.hex() == vector["envelope"]


@pytest.mark.parametrize("vector", VALID, ids=[v["description"] for v in VALID])
def test_open_returns_the_plaintext(vector: dict[str, Any]) -> None:
    for state in ("primary", "active"):  # any non-retired key opens
        keyring = _keyring(_key(vector, vector["purpose"], state))
        opened = keyring.open(
            vector["purpose"], bytes.fromhex(vector["envelope"]), bytes.fromhex(vector["aad"])
        )
        assert opened == _plaintext(vector)


@pytest.mark.parametrize("vector", VALID, ids=[v["description"] for v in VALID])
def test_the_documented_layout_matches_independently(vector: dict[str, Any]) -> None:
    """Rebuild the envelope with nothing but AESGCM and the layout in keyring's docstring."""
    key_id = bytes.fromhex(vector["key_id"])
    nonce = bytes.fromhex(vector["nonce"])
    associated = b"\x01" + key_id + vector["purpose"].encode() + b"\x00"
    associated += bytes.fromhex(vector["aad"])
    sealed = AESGCM(base64.b64decode(vector["secret"])).encrypt(
        nonce, _plaintext(vector), associated
    )
    envelope = bytes.fromhex(vector["envelope"])
    assert envelope == b"\x01" + key_id + nonce + sealed
    assert Keyring.key_id_of(envelope) == vector["key_id"]
    assert len(envelope) == 1 + 8 + 12 + len(_plaintext(vector)) + 16


@pytest.mark.parametrize("vector", INVALID, ids=[v["description"] for v in INVALID])
def test_invalid_vectors_raise_vault_error(vector: dict[str, Any]) -> None:
    keyring = _keyring(_key(vector, vector["key_purpose"], vector["key_state"]))
    with pytest.raises(VaultError) as caught:
        keyring.open(
            vector["open_purpose"], bytes.fromhex(vector["envelope"]), bytes.fromhex(vector["aad"])
        )
    assert str(caught.value) == "invalid or expired"  # one answer, whatever went wrong
