"""Bearer sessions in Redis: idle timeout from the site policy, 12-hour absolute lifetime.

The token is only ever stored as a SHA-256 hash. Checking and touching a session is one
Lua call, so an idle session can't be revived by two requests racing each other, and that
one round trip also answers the user's permissions and MFA state: they are written into
the session at log-in and rewritten in every live session of the user when their profile,
its permissions or their MFA enrolment change (`update_user_sessions`). Disabling a user
or changing their password ends all their sessions at once (`end_user_sessions`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import weakref

from redis import Redis
from redis.commands.core import Script

from core.actors import Actor
from core.errors import SessionExpired, Unauthenticated
from core.runtime import Runtime

ABSOLUTE_LIFETIME_S = 12 * 3600
_PREFIX = "sf:sess:"
_USER_INDEX = "sf:user-sess:"
_KEEP_S = ABSOLUTE_LIFETIME_S + 3600  # a little longer, so an old session says "expired"

_TOUCH = """
local s = redis.call('HMGET', KEYS[1], 'site', 'role', 'user', 'name', 'created', 'seen', 'idle',
                      'perms', 'mfa', 'pwc')
if not s[1] then return {'missing'} end
local now = tonumber(ARGV[1])
if now - tonumber(s[6]) > tonumber(s[7]) or now - tonumber(s[5]) > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {'expired'}
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
return {'ok', s[1], s[2], s[3], s[4], s[8] or '', s[9] or '0', s[10] or '0'}
"""

# Only a session that still exists is changed: HSET on a deleted one would bring back a
# fragment of it without an expiry.
_UPDATE_IF_LIVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


# EVALSHA of scripts registered once per client: the session check runs on every
# authenticated request, and EVAL would send its source each time.
_SCRIPTS: weakref.WeakKeyDictionary[Redis, tuple[Script, Script]] = weakref.WeakKeyDictionary()


def _scripts(client: Redis) -> tuple[Script, Script]:
    """(touch, update-if-live) registered on `client`."""
    scripts = _SCRIPTS.get(client)
    if scripts is None:
        scripts = _SCRIPTS[client] = (
            client.register_script(_TOUCH),
            client.register_script(_UPDATE_IF_LIVE),
        )
    return scripts


def _key(token: str) -> str:
    return _PREFIX + hashlib.sha256(token.encode()).hexdigest()


def _perms(permissions: frozenset[str]) -> str:
    return " ".join(sorted(permissions))


def start_session(rt: Runtime, actor: Actor, idle_timeout_s: int, *, now: int | None = None) -> str:
    if actor.user_id is None:
        raise ValueError("only users have sessions")
    token = "sfs_" + secrets.token_urlsafe(32)
    moment = int(time.time()) if now is None else now
    key = _key(token)
    pipe = rt.redis.pipeline()
    pipe.hset(
        key,
        mapping={
            "site": actor.site_id,
            "role": actor.role,
            "user": actor.user_id,
            "name": actor.display_name or "",
            "created": moment,
            "seen": moment,
            "idle": idle_timeout_s,
            "perms": _perms(actor.permissions),
            "mfa": "1" if actor.mfa_enabled else "0",
            # Never rewritten: setting or clearing it ends every session of the user.
            "pwc": "1" if actor.must_change_password else "0",
        },
    )
    pipe.expire(key, _KEEP_S)
    pipe.sadd(_USER_INDEX + actor.user_id, key)
    pipe.expire(_USER_INDEX + actor.user_id, _KEEP_S)
    pipe.execute()
    return token


def resolve_session(rt: Runtime, token: str, *, now: int | None = None) -> Actor:
    if not token.startswith("sfs_") or len(token) > 100:
        raise Unauthenticated()
    moment = int(time.time()) if now is None else now
    touch, _ = _scripts(rt.redis)
    result = touch(keys=[_key(token)], args=[moment, ABSOLUTE_LIFETIME_S])
    status = result[0].decode()
    if status == "missing":
        raise Unauthenticated()
    if status == "expired":
        raise SessionExpired()
    site, role, user, name, perms, mfa, pwc = (v.decode() for v in result[1:8])
    return Actor(
        site_id=site,
        role=role,
        user_id=user,
        session_id=_key(token),
        display_name=name or None,
        permissions=frozenset(perms.split()),
        mfa_enabled=mfa == "1",
        must_change_password=pwc == "1",
    )


def is_live(rt: Runtime, session_id: str, *, now: int | None = None) -> bool:
    """Whether a session (by its `Actor.session_id`) still stands, without touching it: a
    long-lived stream must end with its session, not keep it from idling out."""
    created, seen, idle = rt.redis.hmget(session_id, "created", "seen", "idle")
    if created is None or seen is None or idle is None:
        return False
    moment = int(time.time()) if now is None else now
    return moment - int(seen) <= int(idle) and moment - int(created) <= ABSOLUTE_LIFETIME_S


def end_session(rt: Runtime, token: str) -> None:
    rt.redis.delete(_key(token))


def end_user_sessions(rt: Runtime, user_id: str) -> None:
    """Log a user out everywhere at once (disabled, password changed, MFA reset)."""
    index = _USER_INDEX + user_id
    keys = rt.redis.smembers(index)
    pipe = rt.redis.pipeline()
    for key in keys:
        pipe.delete(key)
    pipe.delete(index)
    pipe.execute()


def update_user_sessions(
    rt: Runtime,
    user_id: str,
    *,
    permissions: frozenset[str] | None = None,
    mfa_enabled: bool | None = None,
    idle: int | None = None,
) -> int:
    """Rewrite what every live session of a user knows about them; answers how many."""
    fields: list[str | int] = []
    if permissions is not None:
        fields += ["perms", _perms(permissions)]
    if mfa_enabled is not None:
        fields += ["mfa", "1" if mfa_enabled else "0"]
    if idle is not None:
        fields += ["idle", idle]
    if not fields:
        return 0
    keys = sorted(rt.redis.smembers(_USER_INDEX + user_id))
    if not keys:
        return 0
    _, update_if_live = _scripts(rt.redis)
    pipe = rt.redis.pipeline(transaction=False)
    for key in keys:
        update_if_live(keys=[key], args=fields, client=pipe)
    return sum(int(n) for n in pipe.execute())
