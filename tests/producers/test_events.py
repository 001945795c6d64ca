from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from producers import open_event, seal_event
from vault import Keyring, Submission, VaultError
from vault.aad import bind

CARD = "4111111111111111"


def _event(**changes: object) -> Submission:
    event = Submission(
        submission_id="11111111-2222-3333-4444-555555555555",
        request_id="r-1",
        site_id="site-1",
        conversation_id="c-1",
        agent_id="a-1",
        form_id="f-1",
        form_version=3,
        form_title="Payment card",
        values={"card_number": CARD},
        off_record={"cvv": "737"},
        off_record_ttl_ms=300_000,
        retention_days=395,
        submitted_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def test_round_trip() -> None:
    keyring = Keyring.generate()
    event = _event()
    assert open_event(keyring, event.submission_id, seal_event(keyring, event)) == event


def test_the_sealed_form_carries_no_value() -> None:
    sealed = seal_event(Keyring.generate(), _event())
    raw = base64.b64decode(sealed)
    for value in (CARD, "737", "Payment card"):
        assert value not in sealed and value.encode() not in raw


def test_repr_never_shows_values() -> None:
    assert CARD not in repr(_event()) and "737" not in repr(_event())


def test_an_event_sealed_for_one_submission_does_not_open_as_another() -> None:
    keyring = Keyring.generate()
    sealed = seal_event(keyring, _event())
    with pytest.raises(VaultError):
        open_event(keyring, "99999999-2222-3333-4444-555555555555", sealed)


def test_tampering_and_foreign_keys_fail_with_one_error() -> None:
    keyring = Keyring.generate()
    event = _event()
    raw = bytearray(base64.b64decode(seal_event(keyring, event)))
    raw[-1] ^= 1
    for sealed in (
        base64.b64encode(bytes(raw)).decode(),
        seal_event(Keyring.generate(), event),
        "not base64!",
        "",
    ):
        with pytest.raises(VaultError):
            open_event(keyring, event.submission_id, sealed)


def test_an_unknown_contract_version_is_refused() -> None:
    keyring = Keyring.generate()
    event = _event()
    body = {**json.loads(json.dumps({"version": 2})), "submission_id": event.submission_id}
    sealed = keyring.seal(
        "event", json.dumps(body).encode(), bind("submission-event", "1", event.submission_id)
    )
    with pytest.raises(VaultError):
        open_event(keyring, event.submission_id, base64.b64encode(sealed).decode())


# Version 1's body exactly as it was written before the shape moved to vault.Submission:
# messages still queued from then must open to the same submission.
V1_BODY = (
    '{"submission_id":"11111111-2222-3333-4444-555555555555","request_id":"r-1",'
    '"site_id":"site-1","conversation_id":"c-1","agent_id":"a-1","form_id":"f-1",'
    '"form_version":3,"form_title":"Payment card","values":{"card_number":"4111111111111111"},'
    '"off_record":{"cvv":"737"},"off_record_ttl_ms":300000,"retention_days":395,'
    '"submitted_at":"2026-11-29T12:00:00+00:00","version":1}'
)


def test_the_wire_format_of_version_1_is_kept() -> None:
    keyring = Keyring.generate()
    event = _event()
    aad = bind("submission-event", "1", event.submission_id)
    queued = base64.b64encode(keyring.seal("event", V1_BODY.encode(), aad)).decode()
    assert open_event(keyring, event.submission_id, queued) == event
    # and what is sealed today is that same body, byte for byte
    sealed = base64.b64decode(seal_event(keyring, event))
    assert keyring.open("event", sealed, aad) == V1_BODY.encode()


def test_a_body_with_a_field_the_contract_does_not_name_is_refused() -> None:
    keyring = Keyring.generate()
    event = _event()
    body = V1_BODY.replace('"version":1', '"extra":"x","version":1').encode()
    sealed = keyring.seal("event", body, bind("submission-event", "1", event.submission_id))
    with pytest.raises(VaultError):
        open_event(keyring, event.submission_id, base64.b64encode(sealed).decode())
