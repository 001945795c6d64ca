"""Profiles: named sets of permissions within a role, assigned to users.

Every site starts with one default profile per role (agents may use secure forms;
managers may not see history until an admin allows it). Admins add custom profiles, for
example agents without secure forms, and assign them. A profile grants only what its role
allows (core.actors.ASSIGNABLE), and never changes role, so a user's role and profile
always agree.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core import audit
from core.actors import ASSIGNABLE, ROLE_PERMISSIONS, USER_ROLES, Actor, Role, user_role
from core.clock import rfc3339, utcnow
from core.errors import Conflict, DomainError, NotFound
from core.runtime import Runtime
from core.schema import profiles, users
from core.sessions import update_user_sessions
from core.text import storable

DEFAULTS = (("Agent", Role.AGENT), ("Manager", Role.MANAGER), ("Administrator", Role.ADMIN))


class InvalidProfile(DomainError):
    status, code = 422, "invalid_profile"
    default_message = "This profile can't be used that way."


def seed_defaults(site_id: str, *, conn: Connection) -> dict[str, str]:
    """The default profile of each role for a new site; answers role -> profile id."""
    now = utcnow()
    made: dict[str, str] = {}
    for name, role in DEFAULTS:
        profile_id = str(uuid.uuid4())
        conn.execute(
            insert(profiles).values(
                id=profile_id,
                site_id=site_id,
                name=name,
                role=role,
                permissions=json.dumps(sorted(ROLE_PERMISSIONS[role])),
                is_default=True,
                created_at=now,
                updated_at=now,
            )
        )
        made[role] = profile_id
    return made


def _permissions(raw: str) -> frozenset[str]:
    return frozenset(json.loads(raw))


def profile_for(
    conn: Connection, site_id: str, role: Role, profile_id: str | None
) -> tuple[str | None, frozenset[str]]:
    """(profile id, permissions) a user of `role` gets: their profile, else the default.

    A site made before profiles existed has none: its users get the role's defaults.
    """
    query = select(profiles.c.id, profiles.c.permissions).where(
        profiles.c.site_id == site_id, profiles.c.role == role
    )
    row = None
    if profile_id is not None:
        row = conn.execute(query.where(profiles.c.id == profile_id)).first()
    if row is None:
        row = conn.execute(query.where(profiles.c.is_default.is_(True))).first()
    if row is None:
        return None, ROLE_PERMISSIONS.get(role, frozenset())
    return str(row.id), _permissions(row.permissions)


def site_grants(conn: Connection, site_id: str) -> Callable[[Role, str | None], frozenset[str]]:
    """`profile_for`'s answer for many users at once: one query for the whole site."""
    rows = conn.execute(select(profiles).where(profiles.c.site_id == site_id)).all()
    by_id = {r.id: (r.role, _permissions(r.permissions)) for r in rows}
    defaults = {r.role: _permissions(r.permissions) for r in rows if r.is_default}

    def grants(role: Role, profile_id: str | None) -> frozenset[str]:
        if profile_id in by_id and by_id[profile_id][0] == role:
            return by_id[profile_id][1]
        return defaults.get(role, ROLE_PERMISSIONS.get(role, frozenset()))

    return grants


def check_assignable(conn: Connection, site_id: str, profile_id: str, role: str) -> None:
    found = (
        None
        if not storable(profile_id)
        else conn.execute(
            select(profiles.c.role).where(
                profiles.c.id == profile_id, profiles.c.site_id == site_id
            )
        ).scalar()
    )
    if found is None:
        raise InvalidProfile(
            "No such profile on this site.", fields={"profile_id": "No such profile."}
        )
    if found != role:
        message = f"This profile is for the {found} role; the user is {_a(role)}."
        raise InvalidProfile(message, fields={"profile_id": message})


def _a(role: str) -> str:
    return ("an " if role[0] in "aeiou" else "a ") + role


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "permissions": sorted(_permissions(row.permissions)),
        "is_default": bool(row.is_default),
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


def list_profiles(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    actor.require_role(Role.ADMIN)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(profiles)
            .where(profiles.c.site_id == actor.site_id)
            .order_by(profiles.c.role, profiles.c.name)
        ).all()
    return [_public(r) for r in rows]


def get_profile(rt: Runtime, actor: Actor, profile_id: str) -> dict[str, Any]:
    actor.require_role(Role.ADMIN)
    with rt.app_engine.connect() as conn:
        row = _row(conn, actor.site_id, profile_id)
    return _public(row)


def _row(conn: Connection, site_id: str, profile_id: str) -> Any:
    row = conn.execute(
        select(profiles).where(profiles.c.id == profile_id, profiles.c.site_id == site_id)
    ).first()
    if row is None:
        raise NotFound("No such profile on this site.")
    return row


def _checked_permissions(role: Role, permissions: object) -> list[str]:
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise InvalidProfile(fields={"permissions": "A list of permission names."})
    unknown = set(permissions) - ASSIGNABLE[role]
    if unknown:
        allowed = ", ".join(sorted(ASSIGNABLE[role])) or "none"
        message = f"A {role} profile may grant: {allowed}."
        raise InvalidProfile(message, fields={"permissions": message})
    return sorted(set(permissions))


def _checked_name(name: object) -> str:
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name.strip()) > 100
        or not storable(name)
    ):
        raise InvalidProfile(fields={"name": "A name of 1 to 100 characters."})
    return name.strip()


def create_profile(
    rt: Runtime, actor: Actor, name: object, role: object, permissions: object
) -> dict[str, Any]:
    actor.require_role(Role.ADMIN)
    checked_role = user_role(role)
    if checked_role is None:
        raise InvalidProfile(fields={"role": f"One of {', '.join(USER_ROLES)}."})
    role = checked_role
    clean_name = _checked_name(name)
    granted = _checked_permissions(role, permissions)
    profile_id = str(uuid.uuid4())
    now = utcnow()
    try:
        with rt.app_engine.begin() as conn:
            _name_free(conn, actor.site_id, clean_name, None)
            conn.execute(
                insert(profiles).values(
                    id=profile_id,
                    site_id=actor.site_id,
                    name=clean_name,
                    role=role,
                    permissions=json.dumps(granted),
                    is_default=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            audit.record(
                rt,
                site_id=actor.site_id,
                type="profile.changed",
                user_id=actor.user_id,
                resource=f"profile:{profile_id};created;role={role};"
                f"permissions={','.join(granted)}",
                conn=conn,
            )
    except IntegrityError:  # a concurrent create of the same name
        raise _taken() from None
    return get_profile(rt, actor, profile_id)


def _taken() -> Conflict:
    return Conflict("A profile with this name already exists on this site.")


def _name_free(conn: Connection, site_id: str, name: str, profile_id: str | None) -> None:
    other = conn.execute(
        select(profiles.c.id).where(profiles.c.site_id == site_id, profiles.c.name == name)
    ).scalar()
    if other is not None and other != profile_id:
        raise _taken()


def update_profile(
    rt: Runtime, actor: Actor, profile_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Rename a profile or change what it grants; its users' sessions follow at once."""
    actor.require_role(Role.ADMIN)
    with rt.app_engine.begin() as conn:
        row = _row(conn, actor.site_id, profile_id)
        if "role" in changes and changes["role"] != row.role:
            message = "A profile's role never changes; make a new profile instead."
            raise InvalidProfile(message, fields={"role": message})
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = _checked_name(changes["name"])
            _name_free(conn, actor.site_id, values["name"], profile_id)
        if "permissions" in changes:
            values["permissions"] = json.dumps(
                _checked_permissions(row.role, changes["permissions"])
            )
        if not values:
            return _public(row)
        conn.execute(
            update(profiles)
            .where(profiles.c.id == profile_id, profiles.c.site_id == actor.site_id)
            .values(**values, updated_at=utcnow())
        )
        shown = ";".join(
            f"{k}={','.join(json.loads(v)) if k == 'permissions' else v}" for k, v in values.items()
        )
        audit.record(
            rt,
            site_id=actor.site_id,
            type="profile.changed",
            user_id=actor.user_id,
            resource=f"profile:{profile_id};{shown}",
            conn=conn,
        )
        members = _members(conn, actor.site_id, profile_id, row.role, bool(row.is_default))
    if "permissions" in values:
        granted = frozenset(json.loads(values["permissions"]))
        for user_id in members:
            update_user_sessions(rt, user_id, permissions=granted)
    return get_profile(rt, actor, profile_id)


def _members(
    conn: Connection, site_id: str, profile_id: str, role: str, is_default: bool
) -> list[str]:
    """The users a profile governs (a default profile also governs users with none)."""
    assigned = users.c.profile_id == profile_id
    if is_default:
        assigned = assigned | (users.c.profile_id.is_(None) & (users.c.role == role))
    query = select(users.c.id).where(users.c.site_id == site_id, assigned)
    return [str(user_id) for user_id in conn.execute(query).scalars()]
