"""CSRF tokens for HTML form posts: signed, bound to what the form acts on, time-limited.

A token is `<issued-at>.<HMAC(secret, purpose, binding, issued-at)>`. Binding it to the
thing acted on (a form request, a visitor's chat token) rather than to a cookie keeps it
working inside a chat widget's cross-site iframe, where cookies are not sent. The secret
is shared by every api process through Redis, made once by whichever process asks first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from core.runtime import Runtime

MAX_AGE_S = 12 * 3600
_SECRET_KEY = "sf:pages:csrf-secret"  # noqa: S105 (a Redis key name)


def _secret(rt: Runtime) -> bytes:
    value = rt.redis.get(_SECRET_KEY)
    if value is None:
        rt.redis.set(_SECRET_KEY, secrets.token_bytes(32), nx=True)
        value = rt.redis.get(_SECRET_KEY)
    assert isinstance(value, bytes)
    return value


def _mac(secret: bytes, purpose: str, binding: str, issued: int) -> str:
    message = f"{purpose}\n{binding}\n{issued}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(rt: Runtime, purpose: str, binding: str, *, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(_secret(rt), purpose, binding, issued)}"


def verify(
    rt: Runtime,
    purpose: str,
    binding: str,
    token: object,
    *,
    max_age_s: int = MAX_AGE_S,
    now: float | None = None,
) -> bool:
    if not isinstance(token, str) or len(token) > 100:
        return False
    issued_text, _, mac = token.partition(".")
    if not issued_text.isdigit() or not mac:
        return False
    issued = int(issued_text)
    moment = time.time() if now is None else now
    if not moment - max_age_s <= issued <= moment + 60:
        return False
    return hmac.compare_digest(mac, _mac(_secret(rt), purpose, binding, issued))
