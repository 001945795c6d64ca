"""connectors.chatwoot against a Chatwoot of the tests' own (support.chatwoot_api): the
message post as Chatwoot's API takes it, and the webhook signature check against a
signer written from Chatwoot's description."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from support.chatwoot_api import Chatwoot, running_chatwoot, signed

from connectors.chatwoot import post_message, verified
from connectors.webhooks import Attempt, Policy

LOCAL = Policy(production=False, own_url="http://127.0.0.1:1")
SECRET = "whsec-chatwoot-test"


@pytest.fixture
def chatwoot() -> Iterator[Chatwoot]:
    with running_chatwoot(account_id=3) as cw:
        cw.conversations.add(42)
        yield cw


def _post(
    cw: Chatwoot, *, token: str | None = None, conversation: int = 42, private: bool = False
) -> Attempt:
    return post_message(
        LOCAL,
        cw.base_url,
        token or cw.token,
        account_id=3,
        conversation=conversation,
        content="Payment card submitted 14:03 UTC. View it once in Secure forms.",
        private=private,
        timeout_s=3,
    )


def test_a_message_is_posted_as_chatwoot_takes_it(chatwoot: Chatwoot) -> None:
    attempt = _post(chatwoot, private=True)
    assert attempt.ok and attempt.status_code == 200
    [message] = chatwoot.of(42)
    assert message["content"] == "Payment card submitted 14:03 UTC. View it once in Secure forms."
    assert (message["private"], message["message_type"]) == (True, 1)
    path, headers, _raw = chatwoot.requests[-1]
    assert path == "/api/v1/accounts/3/conversations/42/messages"
    assert headers["api_access_token"] == chatwoot.token


def test_refusals_and_outages_are_failed_attempts(chatwoot: Chatwoot) -> None:
    assert _post(chatwoot, token="wrong").status_code == 401
    assert _post(chatwoot, conversation=7).status_code == 404
    chatwoot.down()
    down = _post(chatwoot)
    assert not down.ok and down.status_code == 503
    assert chatwoot.messages == []
    gone = post_message(
        LOCAL, "http://127.0.0.1:9", "t", account_id=3, conversation=42, content="x", private=True
    )
    assert not gone.ok and gone.error == "could not connect"
    production = Policy(production=True, own_url="https://forms.example.com")
    refused = post_message(
        production, chatwoot.base_url, "t", account_id=3, conversation=42, content="x", private=True
    )
    assert not refused.ok and refused.error is not None and refused.error.startswith("refused:")
    assert len(chatwoot.requests) == 3  # the refused URL was never called


def test_the_signature_check_takes_only_chatwoots_own_signature() -> None:
    body = b'{"event":"conversation_status_changed","id":42,"status":"resolved"}'
    now = int(time.time())
    good = signed(SECRET, body, now)
    ts, sig = good["X-Chatwoot-Timestamp"], good["X-Chatwoot-Signature"]
    assert verified(SECRET, body, ts, sig)
    assert not verified("another secret", body, ts, sig)
    assert not verified(SECRET, body.replace(b"resolved", b"open"), ts, sig)
    assert not verified(SECRET, body, ts, sig.removeprefix("sha256="))
    assert not verified(SECRET, body, None, sig)
    assert not verified(SECRET, body, ts, None)
    assert not verified(SECRET, body, "12ab", sig)
    for skew in (-361, 361):  # more than five minutes either way: a replay, or a forgery
        old = signed(SECRET, body, now + skew)
        assert not verified(SECRET, body, old["X-Chatwoot-Timestamp"], old["X-Chatwoot-Signature"])
    near = signed(SECRET, body, now - 240)
    assert verified(SECRET, body, near["X-Chatwoot-Timestamp"], near["X-Chatwoot-Signature"])


def test_the_tests_chatwoot_takes_only_what_chatwoots_api_takes(chatwoot: Chatwoot) -> None:
    # The fake's own checks can fail: else the connector's tests would prove nothing.
    url = f"{chatwoot.base_url}/api/v1/accounts/3/conversations/42/messages"
    token = {"api_access_token": chatwoot.token}
    good = {"content": "hello", "message_type": "outgoing", "private": False}
    refused = [
        ({**good, "sender": "me"}, token, 422),
        ({**good, "message_type": "incoming"}, token, 422),
        ({**good, "private": "false"}, token, 422),
        ({**good, "content": ""}, token, 422),
        ({"message_type": "outgoing", "private": False}, token, 422),
        (good, {}, 401),
    ]
    with httpx.Client(timeout=3) as c:
        for body, headers, status in refused:
            r = c.post(url, json=body, headers=headers)
            assert r.status_code == status, (body, r.text)
            assert "error" in r.json()
        r = c.post(url, content=json.dumps(good), headers={**token, "Content-Type": "text/plain"})
        assert r.status_code == 422
        elsewhere = url.replace("/accounts/3/", "/accounts/4/")
        r = c.post(elsewhere, json=good, headers=token)
        assert (r.status_code, r.json()) == (404, {"error": "Resource could not be found"})
        assert chatwoot.messages == []
        r = c.post(url, json={**good, "content_type": "text", "echo_id": "e1"}, headers=token)
    assert r.status_code == 200, r.text
    message = r.json()
    assert set(message) == {
        "id", "content", "inbox_id", "conversation_id", "message_type", "content_type",
        "content_attributes", "created_at", "private", "sender", "attachments",
    }  # fmt: skip
    assert (message["message_type"], message["conversation_id"]) == (1, 42)
    assert [status for status, _path in chatwoot.refusals] == [422] * 5 + [401, 422, 404]


def test_refused_calls_are_not_ok_and_say_why(chatwoot: Chatwoot) -> None:
    for attempt, status in (
        (_post(chatwoot, token="wrong"), 401),
        (_post(chatwoot, conversation=7), 404),
    ):
        assert not attempt.ok and attempt.status_code == status
    # Not listening at all: no status, a reason; listening again, the same call goes.
    chatwoot.down(refuse=True)
    gone = _post(chatwoot)
    assert not gone.ok and gone.status_code is None and gone.error == "could not connect"
    chatwoot.up()
    assert _post(chatwoot).ok
    assert len(chatwoot.of(42)) == 1


def test_the_window_is_five_minutes_either_way_and_digits_only() -> None:
    body = b'{"event":"conversation_created","id":42}'
    at = 1_800_000_000
    headers = signed(SECRET, body, at)
    ts, sig = headers["X-Chatwoot-Timestamp"], headers["X-Chatwoot-Signature"]
    for skew, ok in ((300, True), (-300, True), (301, False), (-301, False)):
        assert verified(SECRET, body, ts, sig, now=functools.partial(float, at + skew)) is ok

    def then() -> float:
        return at

    assert verified(SECRET, body, ts, sig, now=then)
    assert not verified(SECRET, body, "", sig, now=then)
    assert not verified(SECRET, body, ts, "", now=then)
    assert not verified(SECRET, body, ts, "sha1=" + sig.removeprefix("sha256="), now=then)
    # Digits other than ASCII ones, signs and spaces are no timestamp (and no 500).
    for odd in (f"{ts[:-1]}²", f"+{ts}", f" {ts}", f"{ts}.0", "-" + ts):
        assert not verified(SECRET, body, odd, sig, now=then), odd
    # The signature covers the timestamp: another one within the window does not pass.
    assert not verified(SECRET, body, str(at + 1), sig, now=then)
