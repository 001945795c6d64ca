"""Multi-factor log-in: TOTP (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30 s) and
single-use recovery codes.

Enrolment is two steps: `enroll` makes a secret (kept as pending) and `confirm` proves the
authenticator has it; only then does log-in need a code. A code is accepted for the
current step and one step either side (clock drift), and each step at most once per user,
so a code seen over a shoulder can't be replayed. Recovery codes are kept as SHA-256
hashes (they are random, 50 bits each: a slow hash would add nothing) and each one works
once. When a site's policy lists a role in `mfa_required_roles`, its users can log in to
enrol but can't reveal anything until they have.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from core import audit
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, DomainError, NotFound
from core.policies import site_policies
from core.runtime import Runtime
from core.schema import recovery_codes, users
from core.sessions import update_user_sessions

DIGITS = 6
STEP_S = 30
WINDOW = 1  # steps either side of now
ISSUER = "SecureForms"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class MfaRequired(DomainError):
    status, code = 401, "mfa_required"
    default_message = "This account needs a code from its authenticator app (totp)."


class MfaEnrollmentRequired(DomainError):
    status, code = 403, "mfa_enrollment_required"
    default_message = (
        "This site requires multi-factor authentication for your role: enrol first "
        "(POST /api/v1/auth/mfa/enroll)."
    )


class InvalidTotp(DomainError):
    status, code = 422, "invalid_totp"
    default_message = "That code is not the current one; check the authenticator's clock."


# -- RFC 4226 / RFC 6238 --------------------------------------------------------------------


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


# -- recovery codes ---------------------------------------------------------------------------


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _recovery_hash(code: str) -> str:
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()


# -- enrolment ----------------------------------------------------------------------------------


def _user(conn: Connection, actor: Actor) -> Any:
    row = conn.execute(
        select(users).where(users.c.id == actor.user_id, users.c.site_id == actor.site_id)
    ).first()
    if row is None:
        raise NotFound()
    return row


def enroll(rt: Runtime, actor: Actor) -> dict[str, str]:
    """A new secret for the user's authenticator; log-in needs codes only once confirmed."""
    secret = new_secret()
    with rt.app_engine.begin() as conn:
        row = _user(conn, actor)
        if row.mfa_enabled:
            raise Conflict(
                "Multi-factor authentication is already on; an administrator can reset it."
            )
        conn.execute(update(users).where(users.c.id == row.id).values(mfa_pending_secret=secret))
    return {"secret": secret, "otpauth_uri": otpauth_uri(secret, row.username)}


def confirm(rt: Runtime, actor: Actor, code: str, *, at: float | None = None) -> dict[str, Any]:
    """Check a first code against the pending secret; turn MFA on; answer recovery codes."""
    moment = time.time() if at is None else at
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    with rt.app_engine.begin() as conn:
        row = _user(conn, actor)
        if row.mfa_enabled:
            raise Conflict("Multi-factor authentication is already on.")
        if not row.mfa_pending_secret:
            raise Conflict("Start with POST /api/v1/auth/mfa/enroll.")
        step = matching_step(row.mfa_pending_secret, code.strip(), moment)
        if step is None:
            raise InvalidTotp(fields={"totp": "Not the current code."})
        turned_on = conn.execute(
            update(users)
            .where(users.c.id == row.id, users.c.mfa_enabled.is_(False))
            .values(
                mfa_enabled=True,
                mfa_secret=row.mfa_pending_secret,
                mfa_pending_secret=None,
                mfa_last_step=step,
            )
        ).rowcount
        if not turned_on:
            raise Conflict("Multi-factor authentication is already on.")
        conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == row.id))
        conn.execute(
            insert(recovery_codes),
            [{"user_id": row.id, "code_hash": _recovery_hash(c)} for c in codes],
        )
        audit.record(
            rt,
            site_id=actor.site_id,
            type="auth.mfa_enrolled",
            user_id=row.id,
            resource=f"user:{row.id}",
            conn=conn,
        )
    update_user_sessions(rt, row.id, mfa_enabled=True)
    return {"recovery_codes": codes}


def reset(conn: Connection, user_id: str) -> None:
    """Turn MFA off (an admin's reset for a lost authenticator); sessions end elsewhere."""
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(mfa_enabled=False, mfa_secret=None, mfa_pending_secret=None, mfa_last_step=None)
    )
    conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))


# -- log-in ---------------------------------------------------------------------------------------


def second_factor(conn: Connection, user: Any, code: str, *, at: float | None = None) -> str | None:
    """Spend a TOTP step or a recovery code of `user`; answers which, or None if neither."""
    moment = time.time() if at is None else at
    code = code.strip()
    if code.isascii() and code.isdigit():
        step = matching_step(user.mfa_secret or "", code, moment) if user.mfa_secret else None
        if step is None:
            return None
        spent = conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .where(users.c.mfa_last_step.is_(None) | (users.c.mfa_last_step < step))
            .values(mfa_last_step=step)
        ).rowcount
        return "totp" if spent else None
    spent = conn.execute(
        update(recovery_codes)
        .where(
            recovery_codes.c.user_id == user.id,
            recovery_codes.c.code_hash == _recovery_hash(code),
            recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=utcnow())
    ).rowcount
    return "recovery_code" if spent else None


def require_enrolled(rt: Runtime, actor: Actor) -> None:
    """Refuse a reveal by a user whose role must use MFA but who has not enrolled."""
    if actor.mfa_enabled or actor.user_id is None:
        return
    if actor.role in site_policies(rt, actor.site_id).mfa_required_roles:
        raise MfaEnrollmentRequired()
