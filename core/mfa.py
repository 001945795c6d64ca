"""Multi-factor log-in: TOTP (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30 s) and
single-use recovery codes.

Enrolment is two steps: `enroll` makes a secret (kept as pending) and `confirm` proves the
authenticator has it; only then does log-in need a code. Enrolment and a new set of
recovery codes both ask for the current password again (core.credentials: wrong ones
count toward the failed-login limit), so a session left open or stolen can't plant its
own second factor or mint recovery codes for later. A code is accepted for the
current step and one step either side (clock drift), and each step at most once per user,
so a code seen over a shoulder can't be replayed. Recovery codes are kept as SHA-256
hashes (they are random, 50 bits each: a slow hash would add nothing) and each one works
once. When a site's policy lists a role in `mfa_required_roles`, its users can log in to
enrol but can't reveal anything until they have.

TOTP secrets are sealed at rest (a DB dump must not mint second factors): `sealed:v1:` then
the base64 of a keyring envelope under the primary `data` key, whose associated data binds
the site, the user and the column, so a value copied to another row or column won't open.
A value without the prefix is plaintext left by a version before a0003: it is still
accepted (nobody is locked out mid-upgrade; whoever can write this table could as well
turn MFA off) and sealed wherever it is met: by the migration, at the next log-in with it,
and by the re-wrap after a key rotation, which also re-seals secrets under older keys so
they can be retired. A secret that won't open (wrong key, tampered) matches no code.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from core import audit, credentials
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, DomainError, NotFound
from core.policies import site_policies
from core.runtime import Runtime
from core.schema import recovery_codes, users
from core.sealed import SEAL_PURPOSE, is_sealed, open_text, seal_text, sealed_key_id
from core.sealed import SEALED_PREFIX as SEALED_PREFIX  # where the tests and a0003 look
from core.sessions import update_user_sessions
from core.totp import DIGITS as DIGITS
from core.totp import STEP_S as STEP_S
from core.totp import decode_secret as decode_secret
from core.totp import hotp as hotp
from core.totp import matching_step as matching_step
from core.totp import new_secret as new_secret
from core.totp import otpauth_uri as otpauth_uri
from core.totp import totp as totp
from vault import Cipher, VaultError
from vault.aad import bind

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
SECRET_COLUMNS = ("mfa_secret", "mfa_pending_secret")
_LEGACY_SECRET = re.compile(r"(?:[A-Z2-7]{8})+")  # what new_secret() made: 160 bits, no "="

log = logging.getLogger("core.mfa")


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


# -- secrets at rest ----------------------------------------------------------------------------


def _secret_aad(site_id: str, user_id: str, column: str) -> bytes:
    return bind("totp-secret", site_id, user_id, column)


def seal_secret(keyring: Cipher, site_id: str, user_id: str, column: str, secret: str) -> str:
    """The text stored for `secret` in `column` of the user's row."""
    return seal_text(keyring, _secret_aad(site_id, user_id, column), secret)


def open_secret(keyring: Cipher, site_id: str, user_id: str, column: str, stored: str) -> str:
    """The secret a stored value holds; VaultError (saying nothing more) if it won't open."""
    if not is_sealed(stored):
        # Plaintext from before a0003 (see the module's docstring), if it is a secret at all.
        if not _LEGACY_SECRET.fullmatch(stored):
            raise VaultError()
        return stored
    return open_text(keyring, _secret_aad(site_id, user_id, column), stored)


def _readable(rt: Runtime, user: Any, column: str) -> str | None:
    """The user's secret in `column`, or None when there is none or it won't open."""
    stored = getattr(user, column)
    if not stored:
        return None
    try:
        return open_secret(rt.keyring, user.site_id, user.id, column, stored)
    except VaultError:
        # Never the value: only whose, and where. The key may be retired or the row altered.
        log.error(
            "the TOTP secret in %s of user %s does not open; no code matches", column, user.id
        )
        return None


def secrets_by_key(rt: Runtime) -> dict[str, int]:
    """How many stored TOTP secrets each keyring key seals: a key in use can't be retired."""
    counts: dict[str, int] = {}
    for row in _rows_with_secrets(rt):
        for column in SECRET_COLUMNS:
            key_id = sealed_key_id(getattr(row, column))
            if key_id is not None:
                counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def reseal_secrets(rt: Runtime) -> int:
    """Seal plaintext secrets and re-seal those under an older key with the primary.

    Each row is changed only if it still holds what was read, so an enrolment or reset
    meanwhile wins. Answers how many values were (re-)sealed.
    """
    primary = rt.keyring.primary(SEAL_PURPOSE).id
    done = 0
    for row in _rows_with_secrets(rt):
        for column in SECRET_COLUMNS:
            stored = getattr(row, column)
            if not stored or sealed_key_id(stored) == primary:
                continue
            secret = _readable(rt, row, column)
            if secret is None:
                continue  # logged; its key stays in use, so it is not retired under it
            if not is_sealed(stored):
                log.warning("sealing the plaintext TOTP secret in %s of user %s", column, row.id)
            sealed = seal_secret(rt.keyring, row.site_id, row.id, column, secret)
            with rt.app_engine.begin() as conn:
                done += conn.execute(
                    update(users)
                    .where(users.c.id == row.id, users.c[column] == stored)
                    .values({column: sealed})
                ).rowcount
    return done


def _rows_with_secrets(rt: Runtime) -> list[Any]:
    with rt.app_engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    users.c.id, users.c.site_id, users.c.mfa_secret, users.c.mfa_pending_secret
                ).where(
                    or_(users.c.mfa_secret.is_not(None), users.c.mfa_pending_secret.is_not(None))
                )
            )
        )


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


def enroll(rt: Runtime, actor: Actor, current_password: str) -> dict[str, str]:
    """A new secret for the user's authenticator; log-in needs codes only once confirmed."""
    credentials.check_current_password(rt, actor, current_password, event="auth.mfa_enrolled")
    secret = new_secret()
    with rt.app_engine.begin() as conn:
        row = _user(conn, actor)
        if row.mfa_enabled:
            raise Conflict(
                "Multi-factor authentication is already on; an administrator can reset it."
            )
        sealed = seal_secret(rt.keyring, row.site_id, row.id, "mfa_pending_secret", secret)
        conn.execute(update(users).where(users.c.id == row.id).values(mfa_pending_secret=sealed))
    return {"secret": secret, "otpauth_uri": otpauth_uri(secret, row.username)}


def confirm(rt: Runtime, actor: Actor, code: str, *, at: float | None = None) -> dict[str, Any]:
    """Check a first code against the pending secret; turn MFA on; answer recovery codes."""
    moment = time.time() if at is None else at
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    with rt.app_engine.begin() as conn:
        row = _user(conn, actor)
        if row.mfa_enabled:
            raise Conflict("Multi-factor authentication is already on.")
        pending = _readable(rt, row, "mfa_pending_secret")
        if pending is None:  # none, or one that won't open: a new enrolment is the way on
            raise Conflict("Start with POST /api/v1/auth/mfa/enroll.")
        step = matching_step(pending, code.strip(), moment)
        if step is None:
            raise InvalidTotp(fields={"totp": "Not the current code."})
        turned_on = conn.execute(
            update(users)
            .where(users.c.id == row.id, users.c.mfa_enabled.is_(False))
            .values(
                mfa_enabled=True,
                mfa_secret=seal_secret(rt.keyring, row.site_id, row.id, "mfa_secret", pending),
                mfa_pending_secret=None,
                mfa_last_step=step,
            )
        ).rowcount
        if not turned_on:
            raise Conflict("Multi-factor authentication is already on.")
        _replace_recovery_codes(conn, row.id, codes)
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


def _replace_recovery_codes(conn: Connection, user_id: str, codes: list[str]) -> None:
    conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    conn.execute(
        insert(recovery_codes),
        [{"user_id": user_id, "code_hash": _recovery_hash(c)} for c in codes],
    )


def new_recovery_codes(rt: Runtime, actor: Actor, current_password: str) -> dict[str, Any]:
    """A fresh set of recovery codes (shown once); every earlier one stops working."""
    event = "auth.mfa_recovery_codes_reset"
    credentials.check_current_password(rt, actor, current_password, event=event)
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    with rt.app_engine.begin() as conn:
        row = _user(conn, actor)
        if not row.mfa_enabled:
            raise Conflict("Multi-factor authentication is off: enrol first.")
        _replace_recovery_codes(conn, row.id, codes)
        audit.record(
            rt,
            site_id=actor.site_id,
            type=event,
            user_id=row.id,
            resource=f"user:{row.id}",
            conn=conn,
        )
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


def second_factor(
    rt: Runtime, conn: Connection, user: Any, code: str, *, at: float | None = None
) -> str | None:
    """Spend a TOTP step or a recovery code of `user`; answers which, or None if neither."""
    moment = time.time() if at is None else at
    code = code.strip()
    if code.isascii() and code.isdigit():
        secret = _readable(rt, user, "mfa_secret")
        step = matching_step(secret, code, moment) if secret else None
        if secret is None or step is None:
            return None
        spent = conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .where(users.c.mfa_last_step.is_(None) | (users.c.mfa_last_step < step))
            .values(mfa_last_step=step)
        ).rowcount
        if spent and not is_sealed(user.mfa_secret):
            log.warning("sealing the plaintext TOTP secret of user %s (from before a0003)", user.id)
            conn.execute(
                update(users)
                .where(users.c.id == user.id, users.c.mfa_secret == user.mfa_secret)
                .values(
                    mfa_secret=seal_secret(rt.keyring, user.site_id, user.id, "mfa_secret", secret)
                )
            )
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
