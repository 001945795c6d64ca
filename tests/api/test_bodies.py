from __future__ import annotations

import pytest

from api.bodies import field, parse_json
from api.errors import ApiError

SCHEMA = {
    "otk": field(str, required=True, max_length=10),
    "count": field(int),
    "flag": field(bool),
    "values": field(dict),
}


def _error(raw: bytes) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_json(raw, SCHEMA)
    return info.value


def test_a_good_body_passes() -> None:
    assert parse_json(b'{"otk": "abc", "count": 2, "flag": true}', SCHEMA) == {
        "otk": "abc",
        "count": 2,
        "flag": True,
    }


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"otk": "a",}', b"\xff\xfe"])
def test_malformed_json_is_400(raw: bytes) -> None:
    err = _error(raw)
    assert (err.status, err.code) == (400, "malformed_json")


@pytest.mark.parametrize("raw", [b"[]", b'"otk"', b"3", b"null"])
def test_a_body_that_is_not_an_object_is_422(raw: bytes) -> None:
    assert _error(raw).status == 422


def test_unknown_fields_missing_fields_and_wrong_types_are_named() -> None:
    err = _error(b'{"count": "2", "flag": 1, "surprise": 1}')
    assert (err.status, err.code) == (422, "invalid_body")
    assert err.fields == {
        "_unknown": "1 field(s) this endpoint does not take; it takes: otk, count, flag, values.",
        "otk": "This field is required.",
        "count": "Must be a whole number.",
        "flag": "Must be true or false.",
    }


def test_booleans_are_not_numbers_and_lengths_are_bounded() -> None:
    err = _error(b'{"otk": "01234567890", "count": true}')
    assert err.fields == {"otk": "At most 10 characters.", "count": "Must be a whole number."}


def test_errors_never_quote_the_value() -> None:
    err = _error(b'{"otk": 4111111111111111, "values": "CANARY-VALUE"}')
    assert "4111111111111111" not in str(err.fields) + err.message
    assert "CANARY-VALUE" not in str(err.fields) + err.message


def test_an_empty_body_is_an_empty_object_only_when_nothing_is_required() -> None:
    assert parse_json(b"", {"flag": field(bool)}) == {}
    assert _error(b"").status == 400
