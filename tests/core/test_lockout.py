"""Lock-out against a real app DB and Redis: the last enabled admin of a site is locked
for 30 minutes instead of disabled, everyone else is disabled, and wrong current
passwords count toward the same limit as wrong sign-ins."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from core import audit, credentials, lockout, logins, sessions, users
from core.actors import Actor
from core.errors import AccountDisabled, InvalidCredentials, NotFound, Unauthenticated
from core.runtime import Runtime
from core.schema import users as users_table

ADMIN_PASSWORD = "admin-password-1"  # tests/core/conftest.py's
PASSWORD = "correct-horse-9"


def _enabled(rt: Runtime, user_id: str) -> bool:
    with rt.app_engine.connect() as conn:
        return bool(
            conn.execute(select(users_table.c.enabled).where(users_table.c.id == user_id)).scalar()
        )


def _guess(rt: Runtime, site_id: str, username: str, times: int) -> list[str]:
    answers = []
    for _ in range(times):
        with pytest.raises((InvalidCredentials, AccountDisabled)) as caught:
            logins.log_in(rt, site_id, username, "wrong-password-1")
        answers.append(caught.value.code)
    return answers


def test_the_last_admin_is_locked_for_30_minutes_not_disabled(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt, failed_login_limit=3)
    assert admin.user_id is not None
    live = logins.log_in(rt, admin.site_id, "admin", ADMIN_PASSWORD)["token"]
    assert _guess(rt, admin.site_id, "admin", 3) == ["invalid_credentials"] * 2 + [
        "account_disabled"
    ]
    assert _enabled(rt, admin.user_id)  # still enabled: nobody else could re-enable them
    assert lockout.LOCK_S - 5 <= lockout.lock_ttl_s(rt, admin.user_id) <= lockout.LOCK_S
    with pytest.raises(AccountDisabled):  # locked: the right password doesn't help yet
        logins.log_in(rt, admin.site_id, "admin", ADMIN_PASSWORD)
    assert _guess(rt, admin.site_id, "admin", 5) == ["account_disabled"] * 5  # not extended
    assert lockout.lock_ttl_s(rt, admin.user_id) <= lockout.LOCK_S
    sessions.resolve_session(rt, live)  # a stranger's guesses don't end the admin's session
    (locked,) = audit.list_events(rt, admin.site_id, type="auth.lockout")
    assert locked["resource"].endswith(f"locked_for={lockout.LOCK_S}s")
    rt.redis.pexpire(f"sf:login-lock:{admin.user_id}", 1)  # thirty minutes later
    time.sleep(0.01)
    assert logins.log_in(rt, admin.site_id, "admin", ADMIN_PASSWORD)["token"]


def test_an_admin_beside_another_enabled_admin_is_disabled(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt, failed_login_limit=3)
    second = users.create_user(rt, admin.site_id, "grace", PASSWORD, "admin")
    _guess(rt, admin.site_id, "grace", 3)
    assert not _enabled(rt, second)
    # Now the first admin is the last enabled one: locked, not disabled.
    _guess(rt, admin.site_id, "admin", 3)
    assert admin.user_id is not None and _enabled(rt, admin.user_id)
    assert lockout.is_locked(rt, admin.user_id)


def test_wrong_current_passwords_count_toward_the_limit(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt, failed_login_limit=3)
    user_id = users.create_user(rt, admin.site_id, "ada", PASSWORD, "agent")
    token = logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"]
    me = sessions.resolve_session(rt, token)
    for _ in range(2):
        with pytest.raises(credentials.WrongCurrentPassword):
            credentials.change_password(rt, me, "not-it-at-all-1", "brand-new-phrase-1")
    with pytest.raises(AccountDisabled):
        credentials.change_password(rt, me, "not-it-at-all-1", "brand-new-phrase-1")
    assert not _enabled(rt, user_id)
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, token)
    (entry,) = audit.list_events(rt, admin.site_id, type="auth.lockout")
    assert entry["user_id"] == user_id


def test_the_last_admins_wrong_current_passwords_lock_and_end_their_sessions(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    """Guesses from inside a session may come from a stolen one: it ends."""
    admin = new_site(rt, failed_login_limit=2)
    assert admin.user_id is not None
    token = logins.log_in(rt, admin.site_id, "admin", ADMIN_PASSWORD)["token"]
    me = sessions.resolve_session(rt, token)
    with pytest.raises(credentials.WrongCurrentPassword):
        credentials.change_password(rt, me, "not-it-at-all-1", "brand-new-phrase-1")
    with pytest.raises(AccountDisabled):
        credentials.change_password(rt, me, "not-it-at-all-1", "brand-new-phrase-1")
    assert _enabled(rt, admin.user_id) and lockout.is_locked(rt, admin.user_id)
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, token)


def test_the_operator_enables_a_user_and_lifts_a_lock(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt, failed_login_limit=2)
    user_id = users.create_user(rt, admin.site_id, "ada", PASSWORD, "agent")
    _guess(rt, admin.site_id, "ada", 2)
    _guess(rt, admin.site_id, "admin", 2)
    assert not _enabled(rt, user_id)
    assert users.enable_as_operator(rt, admin.site_id, " ada ")["enabled"] is True
    assert users.enable_as_operator(rt, admin.site_id, "admin")["id"] == admin.user_id
    assert logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"]
    assert logins.log_in(rt, admin.site_id, "admin", ADMIN_PASSWORD)["token"]
    by_operator = [
        e
        for e in audit.list_events(rt, admin.site_id, type="user.changed")
        if e["resource"].endswith("enabled=true;by=operator")
    ]
    assert {e["resource"].split(";")[0] for e in by_operator} == {
        f"user:{user_id}",
        f"user:{admin.user_id}",
    }
    with pytest.raises(NotFound, match="user"):
        users.enable_as_operator(rt, admin.site_id, "nobody")
    with pytest.raises(NotFound, match="site"):
        users.enable_as_operator(rt, "no-such-site", "ada")
