"""Users of a site: creation under the password policy, log-in with lock-out and MFA,
password changes with history, and the admin's changes (enable, profile, reset).

A log-in for an unknown user answers exactly like a wrong password, costs the same Argon2
time, and after the site's failed-login limit answers `account_disabled` as a real account
would, so no sequence of answers tells which usernames exist.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, NoReturn

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core import audit, mfa, profiles
from core.actors import USER_ROLES, Actor, Role
from core.clock import rfc3339, utcnow
from core.errors import (
    AccountDisabled,
    Conflict,
    DomainError,
    InvalidCredentials,
    NotFound,
    ValidationFailed,
)
from core.passwords import (
    HISTORY_DEPTH,
    check_password_policy,
    hash_password,
    verify_password,
)
from core.policies import SitePolicies, site_policies
from core.runtime import Runtime
from core.schema import password_history, sites, users
from core.sessions import end_session, end_user_sessions, start_session, update_user_sessions
from core.text import storable

# Failures for usernames that don't exist are counted too (see the module docstring).
_UNKNOWN_PREFIX = "sf:login-unknown:"
_UNKNOWN_KEEP_S = 30 * 24 * 3600


class WrongCurrentPassword(DomainError):
    status, code = 403, "wrong_password"
    default_message = "The current password is not right."


def _history(conn: Connection, user_id: str) -> list[str]:
    return list(
        conn.execute(
            select(password_history.c.password_hash)
            .where(password_history.c.user_id == user_id)
            .order_by(password_history.c.id.desc())
            .limit(HISTORY_DEPTH)
        ).scalars()
    )


def _remember(conn: Connection, user_id: str, password_hash: str) -> None:
    conn.execute(
        insert(password_history).values(
            user_id=user_id, password_hash=password_hash, created_at=utcnow()
        )
    )
    keep = (
        select(password_history.c.id)
        .where(password_history.c.user_id == user_id)
        .order_by(password_history.c.id.desc())
        .limit(HISTORY_DEPTH)
    )
    conn.execute(
        delete(password_history).where(
            password_history.c.user_id == user_id,
            password_history.c.id.not_in(list(conn.execute(keep).scalars())),
        )
    )


# -- creating --------------------------------------------------------------------------------


def create_user(
    rt: Runtime,
    site_id: str,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    profile_id: str | None = None,
    conn: Connection | None = None,
    by: str | None = None,
    must_change_password: bool = False,
) -> str:
    """A new user; `must_change_password` when an admin chose the password (PCI 8.3.5)."""
    if conn is None:
        with rt.app_engine.begin() as own:
            return create_user(
                rt,
                site_id,
                username,
                password,
                role,
                display_name=display_name,
                profile_id=profile_id,
                conn=own,
                by=by,
                must_change_password=must_change_password,
            )
    if role not in USER_ROLES:
        raise ValueError(f"unknown role {role!r}")
    _check_text(username=username, display_name=display_name, profile_id=profile_id)
    raw = conn.execute(select(sites.c.policies).where(sites.c.id == site_id)).scalar()
    if raw is None:
        raise NotFound()
    policies = SitePolicies.loads(raw)
    check_password_policy(password, username=username, min_length=policies.password_min_length)
    if conn.execute(
        select(users.c.id).where(users.c.site_id == site_id, users.c.username == username)
    ).first():
        raise Conflict("A user with this username already exists on this site.")
    if profile_id is not None:
        profiles.check_assignable(conn, site_id, profile_id, role)
    else:
        profile_id, _ = profiles.profile_for(conn, site_id, Role(role), None)
    user_id = str(uuid.uuid4())
    password_hash = hash_password(password)
    now = utcnow()
    try:
        conn.execute(
            insert(users).values(
                id=user_id,
                site_id=site_id,
                username=username,
                password_hash=password_hash,
                role=role,
                display_name=display_name,
                profile_id=profile_id,
                enabled=True,
                failed_logins=0,
                created_at=now,
                mfa_enabled=False,
                password_changed_at=now,
                must_change_password=must_change_password,
            )
        )
    except IntegrityError:  # a concurrent create of the same username
        raise Conflict("A user with this username already exists on this site.") from None
    _remember(conn, user_id, password_hash)
    audit.record(
        rt,
        site_id=site_id,
        type="user.changed",
        user_id=by,
        resource=f"user:{user_id};created;role={role};profile={profile_id}",
        conn=conn,
    )
    return user_id


def _check_text(**values: str | None) -> None:
    bad = {
        k: "Holds characters that can't be stored."
        for k, v in values.items()
        if v and not storable(v)
    }
    if bad:
        raise ValidationFailed("Some fields hold characters that can't be stored.", fields=bad)


# -- logging in ------------------------------------------------------------------------------


def log_in(
    rt: Runtime, site_id: str, username: str, password: str, totp: str | None = None
) -> dict[str, Any]:
    """Check a log-in and start a session: {"token", "user": {"id", "role"}, "idle_timeout_s"}."""
    try:
        policies = site_policies(rt, site_id)
    except NotFound:
        verify_password(None, password)  # an unknown site costs what any log-in costs
        raise InvalidCredentials() from None
    row = None
    if storable(username):  # a name no store can hold belongs to nobody
        with rt.app_engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.site_id == site_id, users.c.username == username)
            ).first()
    ok = verify_password(row.password_hash if row else None, password)
    if row is None:
        _unknown_user_failed(rt, site_id, username, policies)
    if not row.enabled:
        _audit_login(rt, site_id, row.id, "failure", "account_disabled")
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
    """Count a failure; at the site's limit disable the account. Always raises."""
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(failed_logins=users.c.failed_logins + 1)
        )
        failures = conn.execute(
            select(users.c.failed_logins).where(users.c.id == row.id)
        ).scalar_one()
        locked = failures >= policies.failed_login_limit
        if locked:
            conn.execute(update(users).where(users.c.id == row.id).values(enabled=False))
        audit.record(
            rt,
            site_id=row.site_id,
            type="auth.login",
            outcome="failure",
            user_id=row.id,
            resource=f"user:{row.id};{why}",
            conn=conn,
        )
        if locked:
            audit.record(
                rt,
                site_id=row.site_id,
                type="auth.lockout",
                outcome="failure",
                user_id=row.id,
                resource=f"user:{row.id};failed_logins={failures}",
                conn=conn,
            )
    if locked:
        end_user_sessions(rt, row.id)
        raise AccountDisabled()
    raise InvalidCredentials()


def _unknown_user_failed(
    rt: Runtime, site_id: str, username: str, policies: SitePolicies
) -> NoReturn:
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
    key = f"{_UNKNOWN_PREFIX}{site_id}:{digest}"
    pipe = rt.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, _UNKNOWN_KEEP_S)
    failures, _ = pipe.execute()
    # The username is not recorded: people type their password into that box.
    _audit_login(rt, site_id, None, "failure", "unknown_user")
    if int(failures) >= policies.failed_login_limit:
        raise AccountDisabled()
    raise InvalidCredentials()


# -- reading -------------------------------------------------------------------------------


def _row(conn: Connection, site_id: str, user_id: str) -> Any:
    row = conn.execute(
        select(users).where(users.c.id == user_id, users.c.site_id == site_id)
    ).first()
    if row is None:
        raise NotFound("No such user on this site.")
    return row


def _public(row: Any, permissions: frozenset[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": row.username,
        "role": row.role,
        "display_name": row.display_name,
        "profile_id": row.profile_id,
        "enabled": bool(row.enabled),
        "permissions": sorted(permissions),
        "mfa_enabled": bool(row.mfa_enabled),
        "created_at": rfc3339(row.created_at),
        "password_changed_at": (
            rfc3339(row.password_changed_at) if row.password_changed_at else None
        ),
    }


def get_user(rt: Runtime, site_id: str, user_id: str) -> dict[str, Any]:
    with rt.app_engine.connect() as conn:
        row = _row(conn, site_id, user_id)
        _, permissions = profiles.profile_for(conn, site_id, row.role, row.profile_id)
    return _public(row, permissions)


def list_users(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    actor.require_role(Role.ADMIN)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(users).where(users.c.site_id == actor.site_id).order_by(users.c.username)
        ).all()
        granted = profiles.site_grants(conn, actor.site_id)
    return [_public(row, granted(row.role, row.profile_id)) for row in rows]


def user_role(rt: Runtime, site_id: str, user_id: str) -> str | None:
    with rt.app_engine.connect() as conn:
        return conn.execute(
            select(users.c.role).where(
                users.c.id == user_id, users.c.site_id == site_id, users.c.enabled.is_(True)
            )
        ).scalar()


# -- changing ------------------------------------------------------------------------------


def update_user(rt: Runtime, actor: Actor, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """An admin's changes: enabled, profile_id, display_name, password (reset), mfa_reset.

    Disabling, a password reset or an MFA reset ends the user's sessions at once; a new
    profile's permissions reach their live sessions at once.
    """
    actor.require_role(Role.ADMIN)
    ended = False
    permissions: frozenset[str] | None = None
    with rt.app_engine.begin() as conn:
        row = _row(conn, actor.site_id, user_id)
        _check_text(display_name=changes.get("display_name"), profile_id=changes.get("profile_id"))
        values: dict[str, Any] = {}
        shown: list[str] = []
        if "enabled" in changes:
            if changes["enabled"] is False and user_id == actor.user_id:
                raise Conflict("You can't disable your own account.")
            values["enabled"] = bool(changes["enabled"])
            if values["enabled"]:
                values["failed_logins"] = 0  # re-enabling starts the failure count afresh
            ended |= not values["enabled"]
            shown.append(f"enabled={str(values['enabled']).lower()}")
        if "display_name" in changes:
            values["display_name"] = changes["display_name"]
            shown.append("display_name")
        if "profile_id" in changes:
            profiles.check_assignable(conn, actor.site_id, changes["profile_id"], row.role)
            values["profile_id"] = changes["profile_id"]
            _, permissions = profiles.profile_for(
                conn, actor.site_id, row.role, changes["profile_id"]
            )
            shown.append(f"profile={changes['profile_id']}")
        if "password" in changes:
            values |= _new_password(conn, row, changes["password"])
            values["must_change_password"] = True  # the admin knows it: the user replaces it
            ended = True
            shown.append("password=reset")
        if changes.get("mfa_reset"):
            mfa.reset(conn, user_id)
            ended = True
            shown.append("mfa=reset")
        if values:
            conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.site_id == actor.site_id)
                .values(**values)
            )
        if shown:
            audit.record(
                rt,
                site_id=actor.site_id,
                type="user.changed",
                user_id=actor.user_id,
                resource=f"user:{user_id};" + ";".join(shown),
                conn=conn,
            )
    if ended:
        end_user_sessions(rt, user_id)
    elif permissions is not None:
        update_user_sessions(rt, user_id, permissions=permissions)
    return get_user(rt, actor.site_id, user_id)


def _new_password(conn: Connection, row: Any, password: str) -> dict[str, Any]:
    raw = conn.execute(select(sites.c.policies).where(sites.c.id == row.site_id)).scalar_one()
    check_password_policy(
        password,
        username=row.username,
        min_length=SitePolicies.loads(raw).password_min_length,
        previous_hashes=_history(conn, row.id),
    )
    password_hash = hash_password(password)
    _remember(conn, row.id, password_hash)
    return {"password_hash": password_hash, "password_changed_at": utcnow(), "failed_logins": 0}


def change_password(rt: Runtime, actor: Actor, current: str, new: str) -> None:
    """A user's own change; every session of theirs ends, this one included."""
    assert actor.user_id is not None
    with rt.app_engine.connect() as conn:
        row = _row(conn, actor.site_id, actor.user_id)
    if not verify_password(row.password_hash, current):
        audit.record(
            rt,
            site_id=actor.site_id,
            type="user.password_changed",
            outcome="failure",
            user_id=row.id,
            resource=f"user:{row.id};wrong_password",
        )
        raise WrongCurrentPassword(fields={"current_password": "Not your current password."})
    with rt.app_engine.begin() as conn:
        values = _new_password(conn, row, new) | {"must_change_password": False}
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
        audit.record(
            rt,
            site_id=actor.site_id,
            type="user.password_changed",
            user_id=row.id,
            resource=f"user:{row.id}",
            conn=conn,
        )
    end_user_sessions(rt, actor.user_id)


def whoami(rt: Runtime, actor: Actor) -> dict[str, Any]:
    assert actor.user_id is not None
    me = get_user(rt, actor.site_id, actor.user_id)
    return {**me, "site_id": actor.site_id, "permissions": sorted(actor.permissions)}
