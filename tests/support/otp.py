"""The tests' TOTP oracle: pyotp, written by others, so the server's `core.mfa.totp` is never
the thing that checks itself."""

from __future__ import annotations

import pyotp


def totp(secret: str, at: float) -> str:
    """The RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 `secret` at unix time `at`."""
    return pyotp.TOTP(secret).at(int(at))
