"""A user's own password: the change with its history, and asking for it again before a
sensitive change of their own (MFA enrolment, new recovery codes).

A wrong current password counts toward the site's failed-login limit like a wrong
password at sign-in (core.lockout): a stolen session must not become a free oracle for
guessing the password behind it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from core import audit, lockout, usernames
from core.actors import Actor
from core.clock import utcnow
from core.errors import AccountDisabled, DomainError, NotFound
from core.passwords import HISTORY_DEPTH, check_password_policy, hash_password, verify_password
from core.policies import SitePolicies, site_policies
from core.runtime import Runtime
from core.schema import password_history, sites, users
from core.sessions import end_user_sessions


class WrongCurrentPassword(DomainError):
    status, code = 403, "wrong_password"
    default_message = "The current password is not right."


def user_row(conn: Connection, site_id: str, user_id: str) -> Any:
    row = conn.execute(
        select(users).where(users.c.id == user_id, users.c.site_id == site_id)
    ).first()
    if row is None:
        raise NotFound("No such user on this site.")
    return row


def _history(conn: Connection, user_id: str) -> list[str]:
    return list(
        conn.execute(
            select(password_history.c.password_hash)
            .where(password_history.c.user_id == user_id)
            .order_by(password_history.c.id.desc())
            .limit(HISTORY_DEPTH)
        ).scalars()
    )


def remember(conn: Connection, user_id: str, password_hash: str) -> None:
    """Keep `password_hash` among the last HISTORY_DEPTH of the user's passwords."""
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


def new_password(conn: Connection, row: Any, password: str) -> dict[str, Any]:
    """The column values for `password` as the user's new one, after the policy's checks."""
    raw = conn.execute(select(sites.c.policies).where(sites.c.id == row.site_id)).scalar_one()
    check_password_policy(
        password,
        username=row.username,
        min_length=SitePolicies.loads(raw).password_min_length,
        previous_hashes=_history(conn, row.id),
    )
    password_hash = hash_password(password)
    remember(conn, row.id, password_hash)
    return {"password_hash": password_hash, "password_changed_at": utcnow(), "failed_logins": 0}


def check_current_password(rt: Runtime, actor: Actor, current: str, *, event: str) -> Any:
    """The actor's users row when `current` is their password.

    Otherwise counts the failure (audited as `event`) and raises WrongCurrentPassword, or
    AccountDisabled once the failed-login limit is reached (their sessions have ended).
    """
    assert actor.user_id is not None
    with rt.app_engine.connect() as conn:
        username = usernames.normalise(user_row(conn, actor.site_id, actor.user_id).username)
    policies = site_policies(rt, actor.site_id)
    # The same reservation as sign-in's: a stolen session's guesses sent at once are
    # checked no more often than the limit allows.
    with lockout.attempt(rt, actor.site_id, username) as inflight:
        with rt.app_engine.connect() as conn:
            row = user_row(conn, actor.site_id, actor.user_id)
        lockout.refuse_past_the_limit(row.failed_logins, inflight, policies)
        if verify_password(row.password_hash, current):
            return row
        counted = lockout.count_failure(
            rt, row, policies, event=event, why="wrong_password", in_session=True
        )
    if counted:
        raise AccountDisabled()
    raise WrongCurrentPassword(fields={"current_password": "Not your current password."})


def change_password(rt: Runtime, actor: Actor, current: str, new: str) -> None:
    """A user's own change; every session of theirs ends, this one included."""
    row = check_current_password(rt, actor, current, event="user.password_changed")
    with rt.app_engine.begin() as conn:
        values = new_password(conn, row, new) | {"must_change_password": False}
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
        audit.record(
            rt,
            site_id=actor.site_id,
            type="user.password_changed",
            user_id=row.id,
            resource=f"user:{row.id}",
            conn=conn,
        )
    end_user_sessions(rt, row.id)
