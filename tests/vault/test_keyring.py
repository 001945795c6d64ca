"""The keyring: envelopes, purposes, rotation, retirement, secrecy of repr, the key file."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from vault.errors import VaultError
from vault.keyring import PURPOSES, Key, Keyring, KeyringError, load_keyring

AAD = b"site|record|field"


def _secret_spellings(key: Key) -> list[str]:
    return [
        base64.b64encode(key.secret).decode(),
        base64.urlsafe_b64encode(key.secret).decode().rstrip("="),
        key.secret.hex(),
        repr(key.secret),
    ]


# -- envelopes ------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
def test_round_trip(keyring: Keyring, purpose: str) -> None:
    for plaintext in (b"", b"4111111111111111", bytes(range(256)) * 4):
        envelope = keyring.seal(purpose, plaintext, AAD)
        assert keyring.open(purpose, envelope, AAD) == plaintext
        assert envelope[0] == 0x01
        assert Keyring.key_id_of(envelope) == keyring.primary(purpose).id
        assert len(envelope) == 1 + 8 + 12 + len(plaintext) + 16


def test_same_plaintext_seals_differently_each_time(keyring: Keyring) -> None:
    envelopes = {keyring.seal("data", b"4111111111111111", AAD) for _ in range(50)}
    assert len(envelopes) == 50
    assert len({e[9:21] for e in envelopes}) == 50  # fresh nonce every time


def test_tampering_with_any_byte_fails(keyring: Keyring) -> None:
    envelope = keyring.seal("data", b"4111", AAD)
    assert len(envelope) == 41
    for index in range(len(envelope)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(envelope)
            tampered[index] ^= mask
            with pytest.raises(VaultError):
                keyring.open("data", bytes(tampered), AAD)
    assert keyring.open("data", envelope, AAD) == b"4111"


def test_truncating_or_extending_fails(keyring: Keyring) -> None:
    envelope = keyring.seal("data", b"4111", AAD)
    for length in range(len(envelope)):
        with pytest.raises(VaultError):
            keyring.open("data", envelope[:length], AAD)
    for extra in (b"\x00", b"\x00" * 16):
        with pytest.raises(VaultError):
            keyring.open("data", envelope + extra, AAD)


def test_wrong_aad_fails(keyring: Keyring) -> None:
    envelope = keyring.seal("data", b"4111111111111111", AAD)
    for wrong in (b"", AAD[:-1], AAD + b"x", b"site|record|other", AAD.upper()):
        with pytest.raises(VaultError):
            keyring.open("data", envelope, wrong)


@pytest.mark.parametrize("sealed_as", PURPOSES)
def test_an_envelope_cannot_be_opened_as_another_purpose(keyring: Keyring, sealed_as: str) -> None:
    envelope = keyring.seal(sealed_as, b"payload", AAD)
    for other in PURPOSES:
        if other != sealed_as:
            with pytest.raises(VaultError):
                keyring.open(other, envelope, AAD)


def test_purpose_is_authenticated_even_with_a_shared_secret() -> None:
    """Were one secret ever registered for two purposes, the AAD still keeps them apart."""
    shared = Key.generate("event")
    twin = Key(Key.generate("data").id, "data", shared.secret, "primary", "")
    keyring = Keyring([shared, twin, Key.generate("offrecord")])
    envelope = keyring.seal("event", b"payload", AAD)
    forged = envelope[:1] + bytes.fromhex(twin.id) + envelope[9:]
    with pytest.raises(VaultError):
        keyring.open("data", forged, AAD)


def test_unknown_purpose_is_refused(keyring: Keyring) -> None:
    envelope = keyring.seal("data", b"x", AAD)
    with pytest.raises(VaultError):
        keyring.open("nonsense", envelope, AAD)


def test_vault_error_carries_no_detail(keyring: Keyring) -> None:
    envelope = keyring.seal("data", b"4111111111111111", AAD)
    with pytest.raises(VaultError) as caught:
        keyring.open("data", envelope, b"wrong")
    assert str(caught.value) == "invalid or expired"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# -- rotation and retirement ------------------------------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
def test_rotation(keyring: Keyring, purpose: str) -> None:
    old_primary = keyring.primary(purpose)
    old_envelope = keyring.seal(purpose, b"before rotation", AAD)

    rotated = keyring.rotated(purpose)
    new_primary = rotated.primary(purpose)
    assert new_primary.id != old_primary.id
    assert new_primary.state == "primary"
    assert {k.id: k.state for k in rotated.keys(purpose)} == {
        new_primary.id: "primary",
        old_primary.id: "active",
    }
    for other in PURPOSES:  # other purposes are untouched
        if other != purpose:
            assert rotated.keys(other) == keyring.keys(other)
    assert rotated.generated == keyring.generated

    new_envelope = rotated.seal(purpose, b"after rotation", AAD)
    assert Keyring.key_id_of(new_envelope) == new_primary.id
    assert rotated.open(purpose, new_envelope, AAD) == b"after rotation"
    assert rotated.open(purpose, old_envelope, AAD) == b"before rotation"
    with pytest.raises(VaultError):  # the old keyring does not know the new key
        keyring.open(purpose, new_envelope, AAD)


def test_rotating_twice_keeps_every_older_key_active(keyring: Keyring) -> None:
    envelopes = [keyring.seal("data", b"0", AAD)]
    ring = keyring
    for i in range(1, 4):
        ring = ring.rotated("data")
        envelopes.append(ring.seal("data", str(i).encode(), AAD))
    assert [k.state for k in ring.keys("data")] == ["primary", "active", "active", "active"]
    assert len({Keyring.key_id_of(e) for e in envelopes}) == 4
    for i, envelope in enumerate(envelopes):
        assert ring.open("data", envelope, AAD) == str(i).encode()


def test_retired_keys_do_not_open(keyring: Keyring) -> None:
    old_id = keyring.primary("data").id
    old_envelope = keyring.seal("data", b"old", AAD)
    rotated = keyring.rotated("data")
    rotated_keys = rotated.keys()
    retired = Keyring([replace(k, state="retired") if k.id == old_id else k for k in rotated_keys])
    with pytest.raises(VaultError):
        retired.open("data", old_envelope, AAD)
    new_envelope = retired.seal("data", b"new", AAD)
    assert retired.open("data", new_envelope, AAD) == b"new"
    assert Keyring.key_id_of(new_envelope) != old_id
    assert [k.state for k in retired.keys("data")] == ["primary", "retired"]


def test_keyring_needs_exactly_one_primary_per_purpose() -> None:
    keys = Keyring.generate().keys()
    without_data = [k for k in keys if k.purpose != "data"]
    with pytest.raises(ValueError):
        Keyring(without_data)
    with pytest.raises(ValueError):
        Keyring([*keys, Key.generate("data")])
    with pytest.raises(ValueError):
        Keyring([replace(k, state="active") if k.purpose == "event" else k for k in keys])


def test_keyring_rejects_unusable_keys() -> None:
    keys = Keyring.generate().keys()
    data = next(k for k in keys if k.purpose == "data")
    rest = [k for k in keys if k is not data]
    for bad in (
        replace(data, secret=data.secret[:16]),  # AES-128 is not AES-256
        replace(data, secret=b""),
        replace(data, state="primary-ish"),
        replace(data, purpose="payments"),
    ):
        with pytest.raises(ValueError):
            Keyring([bad, *rest])


def test_keyring_rejects_key_ids_of_the_wrong_length() -> None:
    keys = Keyring.generate().keys()
    with pytest.raises(ValueError):
        Keyring([replace(k, id="abcd") if k.purpose == "data" else k for k in keys])


def test_keyring_rejects_duplicate_key_ids() -> None:
    keys = Keyring.generate().keys()
    event_id = next(k.id for k in keys if k.purpose == "event")
    with pytest.raises(ValueError):
        Keyring([replace(k, id=event_id) if k.purpose == "data" else k for k in keys])


# -- secrecy ----------------------------------------------------------------------------


def test_repr_never_shows_secrets(keyring: Keyring) -> None:
    rotated = keyring.rotated("data")
    all_keys = rotated.keys()
    shown = [repr(rotated), str(rotated), repr(all_keys), str(all_keys)]
    shown += [repr(k) for k in all_keys] + [str(k) for k in all_keys]
    shown += [f"{k!r} {k!s}" for k in all_keys]
    assert all("***" in repr(k) for k in all_keys)
    for key in all_keys:
        for spelling in _secret_spellings(key):
            for text in shown:
                assert spelling not in text


# -- the key file -----------------------------------------------------------------------


def test_save_writes_0600_and_round_trips(keyring: Keyring, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "keyring.json"
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        keyring.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.from_json(json.loads(path.read_text()))

    def summary(ring: Keyring) -> list[tuple[str, str, str, bytes]]:
        return [(k.id, k.purpose, k.state, k.secret) for k in ring.keys(None)]

    assert summary(loaded) == summary(keyring)
    assert loaded.generated == keyring.generated
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json"]  # no temp left


def test_save_replaces_but_exclusive_refuses(keyring: Keyring, tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    keyring.save(path, exclusive=True)
    first = path.read_text()

    other = Keyring.generate()
    with pytest.raises(FileExistsError):
        other.save(path, exclusive=True)
    assert path.read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring.json"]

    other.save(path)  # not exclusive: an atomic replace
    assert path.read_text() != first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.from_json(json.loads(path.read_text())).primary("data").id == (
        other.primary("data").id
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring.json"]


def test_load_keyring_generates_in_development(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    first = load_keyring(path, allow_generate=True)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.generated == "development"
    again = load_keyring(path, allow_generate=True)
    assert again.to_json() == first.to_json()
    envelope = first.seal("data", b"kept", AAD)
    assert again.open("data", envelope, AAD) == b"kept"


def test_load_keyring_refuses_a_missing_file_in_production(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    with pytest.raises(KeyringError):
        load_keyring(path, allow_generate=False)
    assert not path.exists()


def test_load_keyring_refuses_a_generated_keyring_in_production(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    load_keyring(path, allow_generate=True)
    with pytest.raises(KeyringError):
        load_keyring(path, allow_generate=False)


def test_load_keyring_accepts_a_provisioned_keyring_in_production(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    provisioned = Keyring.generate(generated=None)
    provisioned.save(path)
    loaded = load_keyring(path, allow_generate=False)
    assert loaded.generated is None
    assert loaded.primary("event").secret == provisioned.primary("event").secret


def _valid_document() -> dict[str, object]:
    return Keyring.generate().to_json()


def _with_key_changes(**changes: object) -> dict[str, object]:
    document = _valid_document()
    rows = document["keys"]
    assert isinstance(rows, list)
    rows[0] = {**rows[0], **changes}
    return document


GARBAGE_DOCUMENTS = {
    "empty object": {},
    "wrong format": {**_valid_document(), "format": 2},
    "format as string": {**_valid_document(), "format": "1"},
    "keys not a list": {"format": 1, "keys": {"a": 1}},
    "no keys": {"format": 1, "keys": []},
    "short secret": _with_key_changes(secret=base64.b64encode(b"x" * 16).decode()),
    "bad base64 secret": _with_key_changes(secret="abc"),
    "id not hex": _with_key_changes(id="zzzzzzzzzzzzzzzz"),
    "unknown purpose": _with_key_changes(purpose="payments"),
    "unknown state": _with_key_changes(state="enabled"),
}


@pytest.mark.parametrize("document", GARBAGE_DOCUMENTS.values(), ids=GARBAGE_DOCUMENTS.keys())
def test_from_json_rejects_garbage(document: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyringError)):
        Keyring.from_json(document)


GARBAGE_FILES = {
    "empty file": "",
    "not json": "this is not json",
    "truncated json": json.dumps(_valid_document())[:-10],
    "missing secret": json.dumps({"format": 1, "keys": [{"id": "00" * 8, "purpose": "data"}]}),
    "key row not an object": json.dumps({"format": 1, "keys": [1, 2, 3]}),
    **{name: json.dumps(doc) for name, doc in GARBAGE_DOCUMENTS.items()},
}


@pytest.mark.parametrize("content", GARBAGE_FILES.values(), ids=GARBAGE_FILES.keys())
@pytest.mark.parametrize("allow_generate", [True, False])
def test_load_keyring_rejects_garbage_files(
    tmp_path: Path, content: str, allow_generate: bool
) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(KeyringError) as caught:
        load_keyring(path, allow_generate=allow_generate)
    assert path.read_text() == content  # never overwritten by a generated one
    for secret in re.findall(r'"secret": "([^"]+)"', content):
        assert secret not in str(caught.value)  # the message never quotes the file


@pytest.mark.parametrize("content", ["[]", '"keyring"', "1", "null"])
def test_load_keyring_rejects_json_that_is_not_an_object(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(KeyringError):
        load_keyring(path, allow_generate=True)
