"""Per-field sealing: each value is bound to its site, record and field name."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.aad import bind, field_aad
from vault.errors import VaultError
from vault.keyring import Keyring
from vault.sealed_fields import key_ids, open_fields, seal_fields

SITE = "3f6c1d2a-9b8e-4c7d-a6f5-e4d3c2b1a090"
OTHER_SITE = "3f6c1d2a-9b8e-4c7d-a6f5-e4d3c2b1a091"
RECORD = "c0ffee00-1234-4abc-8def-0123456789ab"
OTHER_RECORD = "c0ffee00-1234-4abc-8def-0123456789ac"
VALUES = {
    "card_number": "4111111111111111",
    "cardholder": "Wilhelmina Q. Cardholder",
    "expiry": "12/34",
    "address": "1600 Pennsylvania Avenue NW",
}


def _envelopes(blob: bytes) -> dict[str, bytes]:
    return {name: base64.b64decode(env) for name, env in json.loads(blob).items()}


def _reblob(envelopes: dict[str, bytes]) -> bytes:
    return json.dumps({n: base64.b64encode(e).decode() for n, e in envelopes.items()}).encode()


def test_round_trip(keyring: Keyring) -> None:
    blob = seal_fields(keyring, "data", SITE, RECORD, VALUES)
    assert open_fields(keyring, "data", SITE, RECORD, blob) == VALUES
    assert seal_fields(keyring, "data", SITE, RECORD, {}) == b"{}"
    assert open_fields(keyring, "data", SITE, RECORD, b"{}") == {}


def test_the_blob_holds_field_names_but_no_values(keyring: Keyring) -> None:
    blob = seal_fields(keyring, "data", SITE, RECORD, VALUES)
    assert set(json.loads(blob)) == set(VALUES)
    decoded = b"".join(_envelopes(blob).values())
    for value in VALUES.values():
        for haystack in (blob, decoded, blob.lower(), decoded.lower()):
            assert value.encode() not in haystack
            assert value.lower().encode() not in haystack
            assert base64.b64encode(value.encode()) not in haystack
    assert b"4111" not in decoded


@pytest.mark.parametrize(
    ("site", "record"),
    [(OTHER_SITE, RECORD), (SITE, OTHER_RECORD), (OTHER_SITE, OTHER_RECORD), ("", RECORD)],
    ids=["other site", "other record", "both", "empty site"],
)
def test_a_blob_copied_elsewhere_does_not_open(keyring: Keyring, site: str, record: str) -> None:
    blob = seal_fields(keyring, "data", SITE, RECORD, VALUES)
    with pytest.raises(VaultError):
        open_fields(keyring, "data", site, record, blob)


def test_a_single_field_copied_to_another_record_does_not_open(keyring: Keyring) -> None:
    source = _envelopes(seal_fields(keyring, "data", SITE, RECORD, VALUES))
    target = _envelopes(seal_fields(keyring, "data", SITE, OTHER_RECORD, {"note": "hello"}))
    target["card_number"] = source["card_number"]
    with pytest.raises(VaultError):
        open_fields(keyring, "data", SITE, OTHER_RECORD, _reblob(target))


def test_a_field_renamed_or_swapped_does_not_open(keyring: Keyring) -> None:
    envelopes = _envelopes(seal_fields(keyring, "data", SITE, RECORD, VALUES))
    swapped = dict(envelopes)
    swapped["cardholder"], swapped["card_number"] = (
        envelopes["card_number"],
        envelopes["cardholder"],
    )
    with pytest.raises(VaultError):
        open_fields(keyring, "data", SITE, RECORD, _reblob(swapped))

    moved = {"memo": envelopes["card_number"]}
    with pytest.raises(VaultError):
        open_fields(keyring, "data", SITE, RECORD, _reblob(moved))


def test_another_purpose_does_not_open(keyring: Keyring) -> None:
    blob = seal_fields(keyring, "offrecord", SITE, RECORD, {"cvv": "737"})
    assert open_fields(keyring, "offrecord", SITE, RECORD, blob) == {"cvv": "737"}
    for purpose in ("data", "event"):
        with pytest.raises(VaultError):
            open_fields(keyring, purpose, SITE, RECORD, blob)


def test_another_keyring_does_not_open(keyring: Keyring) -> None:
    blob = seal_fields(keyring, "data", SITE, RECORD, VALUES)
    with pytest.raises(VaultError):
        open_fields(Keyring.generate(), "data", SITE, RECORD, blob)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"string"',
        b"null",
        b'{"card_number": 1}',
        b'{"card_number": null}',
        b'{"card_number": {"a": 1}}',
        b'{"card_number": "not base64!"}',
        b'{"card_number": ""}',
    ],
)
def test_garbage_blobs_raise_vault_error(keyring: Keyring, blob: bytes) -> None:
    with pytest.raises(VaultError):
        open_fields(keyring, "data", SITE, RECORD, blob)


def test_key_ids_lists_the_keys_a_blob_needs(keyring: Keyring) -> None:
    blob = seal_fields(keyring, "data", SITE, RECORD, VALUES)
    assert key_ids(blob) == {keyring.primary("data").id}
    rotated = keyring.rotated("data")
    mixed = _envelopes(blob)
    mixed.update(_envelopes(seal_fields(rotated, "data", SITE, RECORD, {"memo": "new"})))
    mixed_blob = _reblob(mixed)
    assert key_ids(mixed_blob) == {keyring.primary("data").id, rotated.primary("data").id}
    assert open_fields(rotated, "data", SITE, RECORD, mixed_blob) == {**VALUES, "memo": "new"}


def test_bind_is_unambiguous() -> None:
    assert bind("ab", "c") != bind("a", "bc")
    assert bind("a", "") != bind("", "a")
    assert bind("a") != bind("a", "")
    assert field_aad("data", "s", "r", "f") != field_aad("offrecord", "s", "r", "f")
    assert bind("é") == (2).to_bytes(4, "big") + "é".encode()


_PROPERTY_KEYRING = Keyring.generate(generated="test")
_names = st.text(min_size=1, max_size=20)
_values = st.text(max_size=200)


@settings(max_examples=50, deadline=None)
@given(values=st.dictionaries(_names, _values, max_size=6))
def test_round_trip_property(values: dict[str, str]) -> None:
    keyring = _PROPERTY_KEYRING  # a function-scoped fixture does not mix with @given
    blob = seal_fields(keyring, "data", SITE, RECORD, values)
    assert open_fields(keyring, "data", SITE, RECORD, blob) == values
    if values:
        with pytest.raises(VaultError):
            open_fields(keyring, "data", SITE, OTHER_RECORD, blob)
