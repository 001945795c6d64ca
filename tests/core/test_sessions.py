"""Sessions in a real Redis: idle and absolute expiry (time injected), what they carry, and
ending or rewriting every session of a user at once."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from core import sessions
from core.actors import USE_SECURE_FORMS, VIEW_HISTORY, Actor
from core.errors import SessionExpired, Unauthenticated
from core.runtime import Runtime

T0 = 1_900_000_000
AGENT = Actor(
    site_id="site-1",
    role="agent",
    user_id="user-1",
    display_name="Ada",
    permissions=frozenset({USE_SECURE_FORMS}),
)


def test_a_session_carries_the_actor_and_only_a_hash_of_its_token(rt: Runtime) -> None:
    token = sessions.start_session(rt, AGENT, 900, now=T0)
    actor = sessions.resolve_session(rt, token, now=T0 + 1)
    assert (actor.site_id, actor.role, actor.user_id, actor.display_name) == (
        "site-1",
        "agent",
        "user-1",
        "Ada",
    )
    assert actor.permissions == frozenset({USE_SECURE_FORMS})
    assert not actor.mfa_enabled
    assert all(token.encode() not in key for key in rt.redis.keys("sf:*"))
    sessions.end_session(rt, token)
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, token, now=T0 + 2)


def test_idle_sessions_expire_and_use_keeps_them_alive(rt: Runtime) -> None:
    token = sessions.start_session(rt, AGENT, 60, now=T0)
    sessions.resolve_session(rt, token, now=T0 + 60)  # exactly the limit: still fine
    sessions.resolve_session(rt, token, now=T0 + 120)  # 60 s after the last use
    with pytest.raises(SessionExpired):
        sessions.resolve_session(rt, token, now=T0 + 181)
    # Expired means gone: it doesn't come back by being asked again.
    with pytest.raises(Unauthenticated):
        sessions.resolve_session(rt, token, now=T0 + 182)


def test_no_session_outlives_twelve_hours_however_busy(rt: Runtime) -> None:
    token = sessions.start_session(rt, AGENT, 900, now=T0)
    moment = T0
    while moment + 600 <= T0 + sessions.ABSOLUTE_LIFETIME_S:
        moment += 600
        sessions.resolve_session(rt, token, now=moment)
    with pytest.raises(SessionExpired):
        sessions.resolve_session(rt, token, now=T0 + sessions.ABSOLUTE_LIFETIME_S + 1)


def test_ending_a_user_ends_every_one_of_their_sessions_only(rt: Runtime) -> None:
    mine = [sessions.start_session(rt, AGENT, 900, now=T0) for _ in range(3)]
    other = Actor(site_id="site-1", role="agent", user_id="user-2")
    theirs = sessions.start_session(rt, other, 900, now=T0)
    sessions.end_user_sessions(rt, "user-1")
    for token in mine:
        with pytest.raises(Unauthenticated):
            sessions.resolve_session(rt, token, now=T0 + 1)
    assert sessions.resolve_session(rt, theirs, now=T0 + 1).user_id == "user-2"


def test_rewriting_live_sessions_reaches_all_and_revives_none(rt: Runtime) -> None:
    user = Actor(site_id="site-1", role="manager", user_id="user-3")
    live = [sessions.start_session(rt, user, 900, now=T0) for _ in range(2)]
    ended = sessions.start_session(rt, user, 900, now=T0)
    sessions.end_session(rt, ended)
    changed = sessions.update_user_sessions(
        rt, "user-3", permissions=frozenset({VIEW_HISTORY}), mfa_enabled=True, idle=120
    )
    assert changed == 2
    for token in live:
        actor = sessions.resolve_session(rt, token, now=T0 + 1)
        assert actor.permissions == frozenset({VIEW_HISTORY}) and actor.mfa_enabled
    assert rt.redis.exists(sessions._key(ended)) == 0
    with pytest.raises(SessionExpired):
        sessions.resolve_session(rt, live[0], now=T0 + 1 + 121)  # the new idle limit holds


def test_tokens_that_cannot_be_ours_are_refused_without_a_lookup(rt: Runtime) -> None:
    for token in ("", "sfk_abc", "sfs_" + "x" * 200, "Bearer sfs_x"):
        with pytest.raises(Unauthenticated):
            sessions.resolve_session(rt, token)
    with pytest.raises(ValueError):
        sessions.start_session(rt, Actor(site_id="site-1", role="site_key"), 900)


def test_checking_a_session_is_live_does_not_keep_it_alive(rt: Runtime) -> None:
    token = sessions.start_session(rt, AGENT, 60, now=T0)
    session_id = sessions.resolve_session(rt, token, now=T0).session_id
    assert session_id is not None
    assert sessions.is_live(rt, session_id, now=T0 + 50)
    assert sessions.is_live(rt, session_id, now=T0 + 60)
    assert not sessions.is_live(rt, session_id, now=T0 + 61)  # the checks above touched nothing
    sessions.resolve_session(rt, token, now=T0 + 30)
    assert sessions.is_live(rt, session_id, now=T0 + 61)  # real use does
    sessions.end_session(rt, token)
    assert not sessions.is_live(rt, session_id, now=T0 + 61)
    assert not sessions.is_live(rt, "sf:sess:no-such-session")


def _commands_sent(rt: Runtime, action: Callable[[], object]) -> list[str]:
    """The commands this Redis database received while `action` ran (MONITOR, up to a
    marker sent after it), by name."""
    db = rt.redis.connection_pool.connection_kwargs["db"]
    marker = f"end-of-action-{secrets.token_hex(4)}"
    seen: list[str] = []
    with rt.redis.monitor() as monitor:
        action()
        rt.redis.echo(marker)
        for command in monitor.listen():
            if command["db"] != db:
                continue  # another test's database on the shared server
            if marker in command["command"]:
                return seen
            if command.get("client_type") != "lua":  # not the commands a script ran
                seen.append(command["command"].split()[0].upper())
    raise AssertionError("MONITOR ended before the marker")


def test_checking_a_session_sends_the_script_by_its_hash_not_its_source(rt: Runtime) -> None:
    token = sessions.start_session(rt, AGENT, 900, now=T0)
    sessions.resolve_session(rt, token, now=T0 + 1)  # registered (loaded) by now

    sent = _commands_sent(rt, lambda: sessions.resolve_session(rt, token, now=T0 + 2))
    assert [c for c in sent if c.startswith("EVAL")] == ["EVALSHA"]
    other_user = Actor(site_id="site-1", role="agent", user_id="user-9", permissions=frozenset())
    sessions.start_session(rt, other_user, 900, now=T0)
    sent = _commands_sent(rt, lambda: sessions.update_user_sessions(rt, "user-9", mfa_enabled=True))
    assert "EVAL" not in sent and "EVALSHA" in sent
