"""Failed sign-in attempts and what they lead to (PCI-DSS 8.3.4).

At the site's failed-login limit an account is disabled until an admin re-enables it,
with one exception: the last enabled admin of a site is locked for `LOCK_S` instead.
Disabling them would let three anonymous requests take a site's administration away
until an operator steps in; a timed lock still stops guessing (30 minutes per limit's
worth of guesses) and ends on its own. The lock lives in Redis beside the sessions, with
the lock's length as its expiry; attempts during a lock are not counted, so nobody can
stretch it by trying on.

Wrong current passwords (on a password change or a re-authentication before MFA
changes) count toward the same limit as wrong passwords at sign-in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, update

from core import audit
from core.actors import Role
from core.errors import AttemptsInFlight
from core.policies import SitePolicies
from core.runtime import Runtime
from core.schema import sites, users
from core.sessions import end_user_sessions

LOCK_S = 30 * 60  # PCI-DSS 4.0 8.3.4: locked out for at least 30 minutes
_LOCK_PREFIX = "sf:login-lock:"
# Failures for usernames that don't exist are counted too (see core.logins).
_UNKNOWN_PREFIX = "sf:login-unknown:"
_UNKNOWN_KEEP_S = 30 * 24 * 3600
# Guesses at one account being checked right now; far longer than any check takes, so a
# crashed process's reservation only delays the account's next guesses by that much.
_INFLIGHT_PREFIX = "sf:login-inflight:"
_INFLIGHT_KEEP_S = 60


@contextmanager
def attempt(rt: Runtime, site_id: str, username: str) -> Iterator[int]:
    """Reserve one check of a password for (site, username) while the block runs; yields
    how many checks of that account are under way, this one included.

    Failures are counted only once a check ends, so without a reservation every guess
    sent at the same moment is checked before the first one counts: twelve at once all
    reached the password check of an account whose limit is three. Keyed by the name, not
    the user, so a name nobody has behaves exactly like one somebody has.
    """
    key = _INFLIGHT_PREFIX + _name_digest(site_id, username)
    pipe = rt.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, _INFLIGHT_KEEP_S)
    inflight, _ = pipe.execute()
    try:
        yield int(inflight)
    finally:
        rt.redis.decr(key)


def refuse_past_the_limit(failures: int, inflight: int, policies: SitePolicies) -> None:
    """Refuse a check that would go past the limit once the checks under way are counted.

    An account already at its limit (disabled, or a name nobody has past it) is left to
    answer as it always does, so the refusal tells nothing a sequential guess would not.
    """
    limit = policies.failed_login_limit
    if failures < limit < failures + inflight:
        raise AttemptsInFlight()


def unknown_failures(rt: Runtime, site_id: str, username: str) -> int:
    return int(rt.redis.get(_UNKNOWN_PREFIX + _name_digest(site_id, username)) or 0)


def _name_digest(site_id: str, username: str) -> str:
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{site_id}:{digest}"


def is_locked(rt: Runtime, user_id: str) -> bool:
    return bool(rt.redis.exists(_LOCK_PREFIX + user_id))


def lock_ttl_s(rt: Runtime, user_id: str) -> int:
    """Seconds left of the user's lock; 0 when there is none."""
    return max(int(rt.redis.ttl(_LOCK_PREFIX + user_id)), 0)


def unlock(rt: Runtime, user_id: str) -> None:
    rt.redis.delete(_LOCK_PREFIX + user_id)


def count_failure(
    rt: Runtime, row: Any, policies: SitePolicies, *, event: str, why: str, in_session: bool
) -> bool:
    """Count a wrong password or code of `row` (a users row) and audit it as `event`.

    At the limit the account is disabled, or locked if it is the site's last enabled
    admin. Answers whether that happened. Disabling ends every session of the user; a
    lock ends them only when the guesses came from inside a session (`in_session`): a
    stranger's guesses at the sign-in form must not also throw the admin out of the
    session they are working in.
    """
    with rt.app_engine.begin() as conn:
        # One decision at a time per site: two admins failing at once must not both be
        # disabled because each saw the other still enabled.
        conn.execute(select(sites.c.id).where(sites.c.id == row.site_id).with_for_update())
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(failed_logins=users.c.failed_logins + 1)
        )
        failures = conn.execute(
            select(users.c.failed_logins).where(users.c.id == row.id)
        ).scalar_one()
        audit.record(
            rt,
            site_id=row.site_id,
            type=event,
            outcome="failure",
            user_id=row.id,
            resource=f"user:{row.id};{why}",
            conn=conn,
        )
        if failures < policies.failed_login_limit:
            return False
        other_admins = conn.execute(
            select(func.count())
            .select_from(users)
            .where(
                users.c.site_id == row.site_id,
                users.c.role == Role.ADMIN,
                users.c.enabled.is_(True),
                users.c.id != row.id,
            )
        ).scalar_one()
        last_admin = row.role == Role.ADMIN and other_admins == 0
        if last_admin:
            # Counting starts afresh when the lock ends.
            conn.execute(update(users).where(users.c.id == row.id).values(failed_logins=0))
            rt.redis.set(_LOCK_PREFIX + row.id, "1", ex=LOCK_S)
        else:
            conn.execute(update(users).where(users.c.id == row.id).values(enabled=False))
        outcome = f"locked_for={LOCK_S}s" if last_admin else "disabled"
        audit.record(
            rt,
            site_id=row.site_id,
            type="auth.lockout",
            outcome="failure",
            user_id=row.id,
            resource=f"user:{row.id};failed_logins={failures};{outcome}",
            conn=conn,
        )
    if in_session or not last_admin:
        end_user_sessions(rt, row.id)
    return True


def count_unknown_failure(rt: Runtime, site_id: str, username: str, policies: SitePolicies) -> bool:
    """Count a failure for a username nobody has; answers whether it is now at the limit."""
    key = _UNKNOWN_PREFIX + _name_digest(site_id, username)
    pipe = rt.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, _UNKNOWN_KEEP_S)
    failures, _ = pipe.execute()
    return int(failures) >= policies.failed_login_limit
