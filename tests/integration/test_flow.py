"""The whole flow of ARCHITECTURE.md over HTTP, against a real api and a real worker."""

from __future__ import annotations

from support.flow import Desk, card_values
from support.stack import Stack


def test_send_open_submit_reveal_once(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    submit_otk = desk.open(sent)

    r = desk.submit(submit_otk, card_values(card="4242 4242 4242 4242", cvv="321"))
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "accepted"}

    event = desk.wait_submitted(sent.request_id)
    assert event["conversation_id"] == sent.conversation_id
    assert event["off_record_expires_at"]

    first = desk.reveal(event["submission_id"], event["retrieve_otk"])
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["values"] == {
        "cardholder": "Ada Lovelace",
        "card_number": "4242424242424242",
        "expiry": "12/34",
    }
    assert body["off_the_record"] == {"cvv": "321"}
    assert body["off_record_status"] == "available"

    replay = desk.reveal(event["submission_id"], event["retrieve_otk"])
    assert replay.status_code == 410
    assert replay.json()["error"] == "invalid_or_expired"

    with desk.client() as c:
        fresh = c.post(
            f"/api/v1/submissions/{event['submission_id']}/retrieve-otk", headers=desk.agent
        )
        assert fresh.status_code == 200, fresh.text
        second = desk.reveal(event["submission_id"], fresh.json()["otk"])
        assert second.status_code == 200
        assert second.json()["off_the_record"] == {}
        assert second.json()["off_record_status"] == "already_viewed"

        status = c.get(f"/api/v1/secure-forms/{sent.request_id}", headers=desk.agent).json()
        assert status == {
            "request_id": sent.request_id,
            "status": "viewed",
            "submission_id": event["submission_id"],
        }

        transcript = c.get(
            f"/api/v1/conversations/{sent.conversation_id}/transcript", headers=desk.agent
        )
        texts = [m["text"] for m in transcript.json()["messages"]]
        assert any("sent" in t for t in texts) and any("submitted" in t for t in texts)
        assert not any("4242" in t or "321" in t for t in texts)


def test_validation_failure_keeps_the_submit_key(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    submit_otk = desk.open(sent)
    bad = desk.submit(submit_otk, card_values(card="4242424242424241", cvv="12"))
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "validation_failed"
    assert set(body["fields"]) == {"card_number", "cvv"}
    assert "4242424242424241" not in bad.text
    good = desk.submit(submit_otk, card_values())
    assert good.status_code == 202
    desk.wait_submitted(sent.request_id)
