"""Users of a site: creation under the password and username rules, reading, and the
admin's (or the operator's) changes: enable, profile, reset.

Signing in is core.logins, the failed-login rules core.lockout, and a user's own password
change core.credentials.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core import audit, lockout, mfa, profiles, usernames
from core.actors import USER_ROLES, Actor, Role
from core.clock import rfc3339, utcnow
from core.credentials import new_password, remember, user_row
from core.errors import Conflict, NotFound, ValidationFailed
from core.passwords import check_password_policy, hash_password
from core.policies import SitePolicies
from core.runtime import Runtime
from core.schema import sites, users
from core.sessions import end_user_sessions, update_user_sessions
from core.text import storable

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
    username = usernames.normalise(username)
    _check_text(username=username, display_name=display_name, profile_id=profile_id)
    if not username:
        raise ValidationFailed("Username is empty.", fields={"username": "Required."})
    raw = conn.execute(select(sites.c.policies).where(sites.c.id == site_id)).scalar()
    if raw is None:
        raise NotFound()
    policies = SitePolicies.loads(raw)
    check_password_policy(password, username=username, min_length=policies.password_min_length)
    usernames.refuse_lookalike(conn, site_id, username)
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
    remember(conn, user_id, password_hash)
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


# -- reading -------------------------------------------------------------------------------


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
        row = user_row(conn, site_id, user_id)
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
    ended = unlock = False
    permissions: frozenset[str] | None = None
    with rt.app_engine.begin() as conn:
        row = user_row(conn, actor.site_id, user_id)
        _check_text(display_name=changes.get("display_name"), profile_id=changes.get("profile_id"))
        values: dict[str, Any] = {}
        shown: list[str] = []
        if "enabled" in changes:
            if changes["enabled"] is False and user_id == actor.user_id:
                raise Conflict("You can't disable your own account.")
            values["enabled"] = bool(changes["enabled"])
            if values["enabled"]:
                values["failed_logins"] = 0  # re-enabling starts the failure count afresh
                unlock = True
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
            values |= new_password(conn, row, changes["password"])
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
    if unlock:
        lockout.unlock(rt, user_id)
    if ended:
        end_user_sessions(rt, user_id)
    elif permissions is not None:
        update_user_sessions(rt, user_id, permissions=permissions)
    return get_user(rt, actor.site_id, user_id)


def whoami(rt: Runtime, actor: Actor) -> dict[str, Any]:
    assert actor.user_id is not None
    me = get_user(rt, actor.site_id, actor.user_id)
    return {**me, "site_id": actor.site_id, "permissions": sorted(actor.permissions)}


def enable_as_operator(rt: Runtime, site_id: str, username: str) -> dict[str, Any]:
    """The operator's way back in (`secureforms user enable`): enable the user, lift any
    lock and start their failure count afresh. NotFound for an unknown site or user."""
    username = usernames.normalise(username)
    with rt.app_engine.begin() as conn:
        user_id = conn.execute(
            select(users.c.id).where(users.c.site_id == site_id, users.c.username == username)
        ).scalar()
        if user_id is None:
            known_site = conn.execute(select(sites.c.id).where(sites.c.id == site_id)).first()
            raise NotFound("No such user on this site." if known_site else "No such site.")
        conn.execute(
            update(users).where(users.c.id == user_id).values(enabled=True, failed_logins=0)
        )
        audit.record(
            rt,
            site_id=site_id,
            type="user.changed",
            resource=f"user:{user_id};enabled=true;by=operator",
            conn=conn,
        )
    lockout.unlock(rt, user_id)
    return get_user(rt, site_id, user_id)
