"""Bearer sessions in Redis: idle timeout from the site policy, 12-hour absolute lifetime.

The token is only ever stored as a SHA-256 hash. Checking and touching a session is one
Lua call, so an idle session can't be revived by two requests racing each other.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from core.actors import Actor
from core.errors import SessionExpired, Unauthenticated
from core.runtime import Runtime

ABSOLUTE_LIFETIME_S = 12 * 3600
_PREFIX = "sf:sess:"
_USER_INDEX = "sf:user-sess:"

_TOUCH = """
local s = redis.call('HMGET', KEYS[1], 'site', 'role', 'user', 'name', 'created', 'seen', 'idle')
if not s[1] then return {'missing'} end
local now = tonumber(ARGV[1])
if now - tonumber(s[6]) > tonumber(s[7]) or now - tonumber(s[5]) > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {'expired'}
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
return {'ok', s[1], s[2], s[3], s[4]}
"""


def _key(token: str) -> str:
    return _PREFIX + hashlib.sha256(token.encode()).hexdigest()


def start_session(rt: Runtime, actor: Actor, idle_timeout_s: int) -> str:
    token = "sfs_" + secrets.token_urlsafe(32)
    now = int(time.time())
    key = _key(token)
    pipe = rt.redis.pipeline()
    pipe.hset(
        key,
        mapping={
            "site": actor.site_id,
            "role": actor.role,
            "user": actor.user_id or "",
            "name": actor.display_name or "",
            "created": now,
            "seen": now,
            "idle": idle_timeout_s,
        },
    )
    # Kept a little past the absolute lifetime so an expired session says "expired".
    pipe.expire(key, ABSOLUTE_LIFETIME_S + 3600)
    pipe.sadd(_USER_INDEX + (actor.user_id or ""), key)
    pipe.expire(_USER_INDEX + (actor.user_id or ""), ABSOLUTE_LIFETIME_S + 3600)
    pipe.execute()
    return token


def resolve_session(rt: Runtime, token: str) -> Actor:
    if not token.startswith("sfs_") or len(token) > 100:
        raise Unauthenticated()
    result = rt.redis.eval(_TOUCH, 1, _key(token), int(time.time()), ABSOLUTE_LIFETIME_S)
    status = result[0].decode()
    if status == "missing":
        raise Unauthenticated()
    if status == "expired":
        raise SessionExpired()
    site, role, user, name = (v.decode() for v in result[1:5])
    return Actor(
        site_id=site, role=role, user_id=user, session_id=_key(token), display_name=name or None
    )


def end_session(rt: Runtime, token: str) -> None:
    rt.redis.delete(_key(token))


def end_user_sessions(rt: Runtime, user_id: str) -> None:
    """Log a user out everywhere at once (disabled, password changed)."""
    index = _USER_INDEX + user_id
    keys = rt.redis.smembers(index)
    pipe = rt.redis.pipeline()
    for key in keys:
        pipe.delete(key)
    pipe.delete(index)
    pipe.execute()
