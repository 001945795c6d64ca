"""Chatwoot, both ways: a message posted into a conversation through its API, and the
check of the signature on its own webhooks.

Out: `POST {base}/api/v1/accounts/{account}/conversations/{n}/messages` with the
`api_access_token` header and `{"content", "message_type": "outgoing", "private"}`, sent
like a webhook (connectors.webhooks.guarded_post: the SSRF guard at every call, no
redirects). Chatwoot answers 200 with the message.

In: Chatwoot signs a webhook (its per-webhook secret, Chatwoot PR #13573) with
`X-Chatwoot-Timestamp: <unix seconds>` and `X-Chatwoot-Signature: sha256=<hex>`, the
HMAC-SHA256 of "<timestamp>.<raw body>". A timestamp more than five minutes away from
now is refused, so a captured delivery can't be played again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from connectors.webhooks import TIMEOUT_S, Attempt, Policy, guarded_post

SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"
DELIVERY_HEADER = "X-Chatwoot-Delivery"
TOKEN_HEADER = "api_access_token"  # noqa: S105 (a header's name)
WINDOW_S = 300
_SCHEME = "sha256="


def messages_url(base_url: str, account_id: int, conversation: int) -> str:
    return (
        f"{base_url.rstrip('/')}/api/v1/accounts/{account_id}/conversations/{conversation}/messages"
    )


def post_message(
    policy: Policy,
    base_url: str,
    token: str,
    *,
    account_id: int,
    conversation: int,
    content: str,
    private: bool,
    timeout_s: float = TIMEOUT_S,
) -> Attempt:
    """Post `content` into Chatwoot's conversation number `conversation`: to the visitor,
    or (`private`) as a note only agents see."""
    body = json.dumps(
        {"content": content, "message_type": "outgoing", "private": private},
        separators=(",", ":"),
    ).encode()
    headers = {"User-Agent": "secureforms-chatwoot/1", TOKEN_HEADER: token}
    url = messages_url(base_url, account_id, conversation)
    return guarded_post(policy, url, body, headers, timeout_s=timeout_s)


def sign(secret: str, body: bytes, at: int) -> str:
    """The X-Chatwoot-Signature value for `body` sent at `at` (as Chatwoot makes it)."""
    signed = f"{at}.".encode() + body
    return _SCHEME + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verified(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: Callable[[], float] = time.time,
) -> bool:
    """True only for a body Chatwoot signed with `secret` within WINDOW_S of now."""
    if not timestamp or not signature or len(timestamp) > 12:
        return False
    if not (timestamp.isascii() and timestamp.isdigit()):  # "²" is a digit to isdigit()
        return False
    if abs(now() - int(timestamp)) > WINDOW_S:
        return False
    expected = sign(secret, body, int(timestamp))
    return hmac.compare_digest(expected.encode(), signature.strip().encode())
