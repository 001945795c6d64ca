"""Signing in: the password, the second factor, the lock-out rules and the new session.

A log-in for an unknown user answers exactly like a wrong password, costs the same Argon2
time, and after the site's failed-login limit answers `account_disabled` as a real account
would, so no sequence of answers tells which usernames exist. A locked admin (see
core.lockout) gets that same answer, so a lock tells a stranger nothing either.
"""

from __future__ import annotations

from typing import Any, NoReturn

from sqlalchemy import select, update

from core import audit, lockout, mfa, profiles, usernames
from core.actors import Actor
from core.errors import AccountDisabled, InvalidCredentials, NotFound
from core.passwords import verify_password
from core.policies import SitePolicies, site_policies
from core.runtime import Runtime
from core.schema import users
from core.sessions import end_session, start_session, update_user_sessions
from core.text import storable


def log_in(
    rt: Runtime, site_id: str, username: str, password: str, totp: str | None = None
) -> dict[str, Any]:
    """Check a log-in and start a session: {"token", "user": {"id", "role"}, "idle_timeout_s"}."""
    try:
        policies = site_policies(rt, site_id)
    except NotFound:
        verify_password(None, password)  # an unknown site costs what any log-in costs
        raise InvalidCredentials() from None
    username = usernames.normalise(username)
    with lockout.attempt(rt, site_id, username) as inflight:
        # Read after reserving: a guess that waited for others sees what they counted.
        row = None
        if storable(username):  # a name no store can hold belongs to nobody
            with rt.app_engine.connect() as conn:
                row = conn.execute(
                    select(users).where(users.c.site_id == site_id, users.c.username == username)
                ).first()
        so_far = row.failed_logins if row else lockout.unknown_failures(rt, site_id, username)
        lockout.refuse_past_the_limit(so_far, inflight, policies)
        return _checked(rt, site_id, username, row, password, totp, policies)


def _checked(
    rt: Runtime,
    site_id: str,
    username: str,
    row: Any,
    password: str,
    totp: str | None,
    policies: SitePolicies,
) -> dict[str, Any]:
    ok = verify_password(row.password_hash if row else None, password)
    if row is None:
        # The username is not recorded: people type their password into that box.
        _audit_login(rt, site_id, None, "failure", "unknown_user")
        if lockout.count_unknown_failure(rt, site_id, username, policies):
            raise AccountDisabled()
        raise InvalidCredentials()
    if not row.enabled or lockout.is_locked(rt, row.id):
        why = "account_disabled" if not row.enabled else "account_locked"
        _audit_login(rt, site_id, row.id, "failure", why)
        raise AccountDisabled()
    if not ok:
        _failed(rt, row, policies, "wrong_password")
    second = None
    if row.mfa_enabled:
        if not totp:
            _audit_login(rt, site_id, row.id, "failure", "mfa_required")
            raise mfa.MfaRequired()
        with rt.app_engine.begin() as conn:
            second = mfa.second_factor(rt, conn, row, totp)
        if second is None:
            _failed(rt, row, policies, "wrong_second_factor")
    with rt.app_engine.begin() as conn:
        if row.failed_logins:
            conn.execute(update(users).where(users.c.id == row.id).values(failed_logins=0))
        _, permissions = profiles.profile_for(conn, site_id, row.role, row.profile_id)
        detail = f"user:{row.id}" + (f";{second}" if second else "")
        audit.record(
            rt, site_id=site_id, type="auth.login", user_id=row.id, resource=detail, conn=conn
        )
    actor = Actor(
        site_id=site_id,
        role=row.role,
        user_id=row.id,
        display_name=row.display_name,
        permissions=permissions,
        mfa_enabled=bool(row.mfa_enabled),
        must_change_password=bool(row.must_change_password),
    )
    token = start_session(rt, actor, policies.idle_timeout_s)
    _recheck(rt, token, actor, row.password_hash)
    return {
        "token": token,
        "user": {"id": row.id, "role": row.role},
        "idle_timeout_s": policies.idle_timeout_s,
    }


def _recheck(rt: Runtime, token: str, actor: Actor, password_hash: str) -> None:
    """Close the race with an admin's change made while this log-in was under way.

    Disabling, a password change or a profile change that landed after our read but
    before our session existed found no session to end or rewrite: read again now that it
    does, and end or correct it.
    """
    assert actor.user_id is not None
    with rt.app_engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == actor.user_id)).first()
        if row is not None:
            _, permissions = profiles.profile_for(conn, actor.site_id, row.role, row.profile_id)
    if row is None or not row.enabled or row.password_hash != password_hash:
        end_session(rt, token)
        raise AccountDisabled() if row is not None and not row.enabled else InvalidCredentials()
    if permissions != actor.permissions or bool(row.mfa_enabled) != actor.mfa_enabled:
        update_user_sessions(
            rt, actor.user_id, permissions=permissions, mfa_enabled=bool(row.mfa_enabled)
        )


def _audit_login(rt: Runtime, site_id: str, user_id: str | None, outcome: str, why: str) -> None:
    resource = f"user:{user_id};{why}" if user_id else why
    audit.record(
        rt, site_id=site_id, type="auth.login", outcome=outcome, user_id=user_id, resource=resource
    )


def _failed(rt: Runtime, row: Any, policies: SitePolicies, why: str) -> NoReturn:
    """Count a failure; at the site's limit disable (or lock) the account. Always raises."""
    if lockout.count_failure(rt, row, policies, event="auth.login", why=why, in_session=False):
        raise AccountDisabled()
    raise InvalidCredentials()
