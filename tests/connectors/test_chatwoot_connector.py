"""connectors.chatwoot against a Chatwoot of the tests' own (support.chatwoot_api): the
message post as Chatwoot's API takes it, and the webhook signature check against a
signer written from Chatwoot's description."""

from __future__ import annotations

import time
from collections.abc import Iterator

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
