"""Users of a site: creation under the password policy, log-in with lock-out, listing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.actors import ROLE_PERMISSIONS, Actor
from core.clock import rfc3339, utcnow
from core.errors import AccountDisabled, Conflict, InvalidCredentials, NotFound, PasswordPolicy
from core.passwords import hash_password, verify_password
from core.policies import ROLES, SitePolicies, site_policies
from core.runtime import Runtime
from core.schema import sites, users


def check_password_policy(min_length: int, username: str, password: str) -> None:
    if len(password) < min_length:
        raise PasswordPolicy(f"The password must have at least {min_length} characters.")
    if password.casefold() == username.casefold():
        raise PasswordPolicy("The password must not be the username.")


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
) -> str:
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
            )
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    raw = conn.execute(select(sites.c.policies).where(sites.c.id == site_id)).scalar()
    if raw is None:
        raise NotFound()
    check_password_policy(SitePolicies.loads(raw).password_min_length, username, password)
    if conn.execute(
        select(users.c.id).where(users.c.site_id == site_id, users.c.username == username)
    ).first():
        raise Conflict("A user with this username already exists on this site.")
    user_id = str(uuid.uuid4())
    try:
        conn.execute(
            insert(users).values(
                id=user_id,
                site_id=site_id,
                username=username,
                password_hash=hash_password(password),
                role=role,
                display_name=display_name,
                profile_id=profile_id,
                enabled=True,
                failed_logins=0,
                created_at=utcnow(),
            )
        )
    except IntegrityError:  # a concurrent create of the same username
        raise Conflict("A user with this username already exists on this site.") from None
    return user_id


def authenticate(rt: Runtime, site_id: str, username: str, password: str) -> Actor:
    """Check a log-in; count failures and disable the account at the site's limit.

    An unknown user answers exactly like a wrong password and costs the same Argon2 time.
    """
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(users).where(users.c.site_id == site_id, users.c.username == username)
        ).first()
    ok = verify_password(row.password_hash if row else None, password)
    if row is None:
        raise InvalidCredentials()
    if not row.enabled:
        raise AccountDisabled()
    if not ok:
        limit = site_policies(rt, site_id).failed_login_limit
        with rt.app_engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(failed_logins=users.c.failed_logins + 1)
            )
            failures = conn.execute(
                select(users.c.failed_logins).where(users.c.id == row.id)
            ).scalar_one()
            if failures >= limit:
                conn.execute(update(users).where(users.c.id == row.id).values(enabled=False))
        if failures >= limit:
            raise AccountDisabled()
        raise InvalidCredentials()
    if row.failed_logins:
        with rt.app_engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == row.id).values(failed_logins=0))
    return Actor(site_id=site_id, role=row.role, user_id=row.id, display_name=row.display_name)


def get_user(rt: Runtime, site_id: str, user_id: str) -> dict[str, Any]:
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(users).where(users.c.id == user_id, users.c.site_id == site_id)
        ).first()
    if row is None:
        raise NotFound()
    return _public(row)


def list_users(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(users).where(users.c.site_id == actor.site_id).order_by(users.c.username)
        ).all()
    return [_public(r) for r in rows]


def update_user(rt: Runtime, actor: Actor, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    get_user(rt, actor.site_id, user_id)
    values = dict(changes)
    if values.get("enabled") is True:
        values["failed_logins"] = 0  # re-enabling starts the failure count afresh
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.site_id == actor.site_id)
            .values(**values)
        )
    if values.get("enabled") is False:
        from core.sessions import end_user_sessions

        end_user_sessions(rt, user_id)
    return get_user(rt, actor.site_id, user_id)


def user_role(rt: Runtime, site_id: str, user_id: str) -> str | None:
    with rt.app_engine.connect() as conn:
        return conn.execute(
            select(users.c.role).where(
                users.c.id == user_id, users.c.site_id == site_id, users.c.enabled.is_(True)
            )
        ).scalar()


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": row.username,
        "role": row.role,
        "display_name": row.display_name,
        "profile_id": row.profile_id,
        "enabled": bool(row.enabled),
        "permissions": sorted(ROLE_PERMISSIONS[row.role]),
        "created_at": rfc3339(row.created_at),
    }
