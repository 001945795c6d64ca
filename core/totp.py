"""TOTP (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30 s): the arithmetic only.
What is stored, spent and audited is core.mfa's."""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

DIGITS = 6
STEP_S = 30
WINDOW = 1  # steps either side of now
ISSUER = "SecureForms"


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(
    secret: str, at: float, *, digits: int = DIGITS, step: int = STEP_S, digest: str = "sha1"
) -> str:
    return hotp(decode_secret(secret), int(at // step), digits=digits, digest=digest)


def new_secret() -> str:
    """160 random bits (RFC 4226's recommended length), base32 without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def decode_secret(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def matching_step(secret: str, code: str, at: float, *, window: int = WINDOW) -> int | None:
    """The time step whose code this is (now ± window), or None."""
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    key = decode_secret(secret)
    now = int(at // STEP_S)
    found = None
    for step in range(now - window, now + window + 1):
        # Every candidate is compared, so the time taken says nothing about which matched.
        if hmac.compare_digest(hotp(key, step), code):
            found = step
    return found


def otpauth_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_S,
        }
    )
    return f"otpauth://totp/{label}?{query}"
