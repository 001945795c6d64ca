"""Users against a real app DB and Redis: creation under the policy, log-in and lock-out,
unknown users that answer like known ones, password changes, and the admin's changes."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from core import audit, credentials, logins, passwords, profiles, sessions, users
from core.actors import USE_SECURE_FORMS, VIEW_HISTORY, Actor
from core.errors import (
    AccountDisabled,
    Conflict,
    InvalidCredentials,
    NotFound,
    PasswordPolicy,
    SessionExpired,
    Unauthenticated,
)
from core.runtime import Runtime
from core.schema import users as users_table

PASSWORD = "correct-horse-9"


def _user(rt: Runtime, admin: Actor, name: str = "ada", role: str = "agent") -> str:
    return users.create_user(rt, admin.site_id, name, PASSWORD, role, by=admin.user_id)


def _failure(call: Callable[[], object]) -> tuple[type[Exception], int, str, str]:
    with pytest.raises(Exception) as caught:
        call()
    exc = caught.value
    return type(exc), exc.status, exc.code, exc.message  # type: ignore[attr-defined]


def test_a_user_gets_the_default_profile_of_their_role(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    agent = users.get_user(rt, admin.site_id, _user(rt, admin))
    manager = users.get_user(rt, admin.site_id, _user(rt, admin, "max", "manager"))
    assert agent["permissions"] == [USE_SECURE_FORMS]
    assert manager["permissions"] == []
    by_role = {p["role"]: p["id"] for p in profiles.list_profiles(rt, admin) if p["is_default"]}
    assert (agent["profile_id"], manager["profile_id"]) == (by_role["agent"], by_role["manager"])
    created = audit.list_events(rt, admin.site_id, type="user.changed")[-2]
    assert created["user_id"] == admin.user_id
    assert created["resource"].startswith(f"user:{agent['id']};created")
    assert PASSWORD not in str(audit.list_events(rt, admin.site_id))


def test_creation_keeps_to_the_password_policy(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    admin = new_site(rt, password_min_length=16)
    for bad in ("short-but-ok-1", "qwertyuiop123456", "ada-lovelace-1815x"):
        with pytest.raises(PasswordPolicy):
            users.create_user(rt, admin.site_id, "ada-lovelace-1815x", bad, "agent")
    users.create_user(rt, admin.site_id, "ada", "a-long-enough-phrase-7", "agent")
    with pytest.raises(Conflict):
        users.create_user(rt, admin.site_id, "ada", "another-long-phrase-7", "agent")


def test_log_in_answers_a_session_with_the_profiles_permissions(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    user_id = _user(rt, admin)
    answer = logins.log_in(rt, admin.site_id, "ada", PASSWORD)
    assert answer["user"] == {"id": user_id, "role": "agent"}
    assert answer["idle_timeout_s"] == 900
    actor = sessions.resolve_session(rt, answer["token"])
    assert actor.permissions == frozenset({USE_SECURE_FORMS})
    (entry,) = audit.list_events(rt, admin.site_id, type="auth.login")
    assert (entry["outcome"], entry["user_id"]) == ("success", user_id)


def test_the_failed_login_limit_disables_until_an_admin_re_enables(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt, failed_login_limit=3)
    user_id = _user(rt, admin)
    live = logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"]
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            logins.log_in(rt, admin.site_id, "ada", "wrong-password")
    with pytest.raises(AccountDisabled):
        logins.log_in(rt, admin.site_id, "ada", "wrong-password")
    with pytest.raises(AccountDisabled):
        logins.log_in(rt, admin.site_id, "ada", PASSWORD)  # the right password doesn't help
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, live)  # the lock-out ended the session it had
    (lockout,) = audit.list_events(rt, admin.site_id, type="auth.lockout")
    assert lockout["user_id"] == user_id
    users.update_user(rt, admin, user_id, {"enabled": True})
    assert logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"]
    # The count started afresh: two more failures don't lock it again.
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            logins.log_in(rt, admin.site_id, "ada", "wrong-password")


def test_a_success_resets_the_count(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    admin = new_site(rt, failed_login_limit=2)
    _user(rt, admin)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            logins.log_in(rt, admin.site_id, "ada", "wrong-password")
        logins.log_in(rt, admin.site_id, "ada", PASSWORD)


def test_an_unknown_user_answers_like_a_wrong_password_at_the_same_cost(
    rt: Runtime, new_site: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = new_site(rt, failed_login_limit=3)
    _user(rt, admin)
    hashes_checked: list[str] = []
    real = passwords._hasher

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            hashes_checked.append(stored)
            return bool(real.verify(stored, password))

        def hash(self, password: str) -> str:  # the dummy an unknown user is checked against
            return str(real.hash(password))

    monkeypatch.setattr(passwords, "_hasher", Counting())
    answers = {}
    for who in ("ada", "nobody"):
        hashes_checked.clear()
        answers[who] = [
            _failure(lambda who=who: logins.log_in(rt, admin.site_id, who, "wrong-password"))
            for _ in range(3)
        ]
        assert len(hashes_checked) == 3  # one Argon2 verify per attempt, user or not
    assert answers["ada"] == answers["nobody"]
    assert [a[:3] for a in answers["ada"]] == [
        (InvalidCredentials, 401, "invalid_credentials"),
        (InvalidCredentials, 401, "invalid_credentials"),
        (AccountDisabled, 423, "account_disabled"),
    ]
    # An unknown site too.
    assert _failure(lambda: logins.log_in(rt, "no-such-site", "ada", PASSWORD)) == answers["ada"][0]
    unknown = [
        e for e in audit.list_events(rt, admin.site_id, type="auth.login") if e["user_id"] is None
    ]
    assert len(unknown) == 3 and {e["resource"] for e in unknown} == {"unknown_user"}
    assert "nobody" not in str(audit.list_events(rt, admin.site_id))


def test_disabling_ends_every_session_and_refuses_log_in(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    user_id = _user(rt, admin)
    tokens = [logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"] for _ in range(2)]
    users.update_user(rt, admin, user_id, {"enabled": False})
    for token in tokens:
        with pytest.raises(Unauthenticated):
            sessions.resolve_session(rt, token)
    with pytest.raises(AccountDisabled):
        logins.log_in(rt, admin.site_id, "ada", PASSWORD)
    with pytest.raises(Conflict):
        users.update_user(rt, admin, admin.user_id or "", {"enabled": False})


def test_a_log_in_racing_a_disable_keeps_no_session(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    """The admin's disable landed after the log-in read the user, before its session existed."""
    admin = new_site(rt)
    user_id = _user(rt, admin)
    answer = logins.log_in(rt, admin.site_id, "ada", PASSWORD)
    actor = sessions.resolve_session(rt, answer["token"])
    with rt.app_engine.begin() as conn:
        conn.execute(update(users_table).where(users_table.c.id == user_id).values(enabled=False))
        row = conn.execute(select(users_table).where(users_table.c.id == user_id)).one()
    with pytest.raises(AccountDisabled):
        logins._recheck(rt, answer["token"], actor, row.password_hash)
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, answer["token"])


def test_changing_your_password_ends_your_sessions_and_keeps_four_in_history(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    _user(rt, admin)
    token = logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"]
    me = sessions.resolve_session(rt, token)
    with pytest.raises(credentials.WrongCurrentPassword):
        credentials.change_password(rt, me, "not-it-at-all", "brand-new-phrase-1")
    sessions.resolve_session(rt, token)  # a wrong current password changes nothing
    chain = [PASSWORD] + [f"brand-new-phrase-{i}" for i in range(1, 5)]
    for old, new in itertools.pairwise(chain):
        token = logins.log_in(rt, admin.site_id, "ada", old)["token"]
        credentials.change_password(rt, sessions.resolve_session(rt, token), old, new)
        with pytest.raises(Unauthenticated):
            sessions.resolve_session(rt, token)
    token = logins.log_in(rt, admin.site_id, "ada", chain[-1])["token"]
    me = sessions.resolve_session(rt, token)
    for recent in chain[-4:]:
        with pytest.raises(PasswordPolicy, match="last 4"):
            credentials.change_password(rt, me, chain[-1], recent)
    credentials.change_password(rt, me, chain[-1], chain[0])  # five back: allowed again
    types = [e["type"] for e in audit.list_events(rt, admin.site_id, type="user.")]
    assert types.count("user.password_changed") == 6  # one refused, five done


def test_an_admin_reset_keeps_the_policy_and_ends_sessions(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    user_id = _user(rt, admin)
    token = logins.log_in(rt, admin.site_id, "ada", PASSWORD)["token"]
    with pytest.raises(PasswordPolicy):
        users.update_user(rt, admin, user_id, {"password": PASSWORD})
    users.update_user(rt, admin, user_id, {"password": "a-fresh-reset-phrase-7"})
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, token)
    with pytest.raises(InvalidCredentials):
        logins.log_in(rt, admin.site_id, "ada", PASSWORD)
    logins.log_in(rt, admin.site_id, "ada", "a-fresh-reset-phrase-7")


def test_a_new_profile_reaches_live_sessions_at_once(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    user_id = _user(rt, admin, "max", "manager")
    token = logins.log_in(rt, admin.site_id, "max", PASSWORD)["token"]
    assert sessions.resolve_session(rt, token).permissions == frozenset()
    reviewers = profiles.create_profile(rt, admin, "Reviewers", "manager", [VIEW_HISTORY])
    users.update_user(rt, admin, user_id, {"profile_id": reviewers["id"]})
    assert sessions.resolve_session(rt, token).permissions == frozenset({VIEW_HISTORY})
    profiles.update_profile(rt, admin, reviewers["id"], {"permissions": []})
    assert sessions.resolve_session(rt, token).permissions == frozenset()


def test_users_of_another_site_are_not_found(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    ours, theirs = new_site(rt), new_site(rt)
    user_id = _user(rt, ours)
    with pytest.raises(NotFound):
        users.get_user(rt, theirs.site_id, user_id)
    with pytest.raises(NotFound):
        users.update_user(rt, theirs, user_id, {"enabled": False})
    assert user_id not in {u["id"] for u in users.list_users(rt, theirs)}
    with pytest.raises(InvalidCredentials):
        logins.log_in(rt, theirs.site_id, "ada", PASSWORD)


def test_an_expired_session_is_told_apart_from_a_missing_one(rt: Runtime) -> None:
    token = sessions.start_session(
        rt, Actor(site_id="s", role="agent", user_id="u-expiry"), 60, now=1_000
    )
    with pytest.raises(SessionExpired):
        sessions.resolve_session(rt, token, now=2_000)
