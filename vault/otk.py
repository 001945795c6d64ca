"""One-time keys: 256-bit random, kept in Redis only as a hash, one action, one site.

Redeeming is a single Lua script (check action/site/subject, then delete), so when many
clients race for one key exactly one of them gets it. A key presented for the wrong
action or site is refused without being spent: refusing must not let a stranger burn a
visitor's key by guessing at it through another endpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from redis import Redis
from redis.client import Pipeline

from vault.errors import VaultError

ACTIONS = ("open", "submit", "retrieve")
_PREFIX = "sf:otk:"
_GROUP = "sf:otk-group:"
REDEMPTIONS = Counter(
    "secureforms_otk_redemptions",
    "One-time keys presented to be spent, by action and outcome: redeemed, or refused "
    "(unknown, expired, spent, or another action's or site's: one outcome for all).",
    ["action", "outcome"],
)
# what token_urlsafe makes; anything else (a lone surrogate, say) is refused before hashing
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,128}")
MIN_BYTES = 16

_REDEEM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local claims = cjson.decode(raw)
if claims['a'] ~= ARGV[1] then return false end
if ARGV[2] ~= '' and claims['s'] ~= ARGV[2] then return false end
if ARGV[3] ~= '' and claims['u'] ~= ARGV[3] then return false end
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) end
return raw
"""

# A group's keys and then the group, in one step (one round trip for the submit that
# answers a link). The keys are named by the set, not by KEYS: fine on the one Redis
# node this service uses, not on a Redis Cluster.
_REVOKE = """
local live = 0
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  live = live + redis.call('DEL', name)
end
redis.call('DEL', KEYS[1])
return live
"""


@dataclass(frozen=True)
class OtkClaims:
    action: str
    site_id: str
    subject: str
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IssuedOtk:
    token: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedOtk(token=***, expires_at={self.expires_at!r})"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OneTimeKeys:
    def __init__(
        self,
        redis: Redis,
        ttls_s: Mapping[str, int],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._ttls = dict(ttls_s)
        self._clock = clock
        self._redeem = redis.register_script(_REDEEM)
        self._revoke = redis.register_script(_REVOKE)

    def issue(
        self,
        action: str,
        site_id: str,
        subject: str,
        *,
        data: Mapping[str, Any] | None = None,
        ttl_s: float | None = None,
        groups: tuple[str, ...] = (),
        pipe: Pipeline | None = None,
        nbytes: int = 32,
    ) -> IssuedOtk:
        """A new key. `groups` name sets it joins so that it can be revoked with them
        (all keys of a conversation when it closes, say). `nbytes` of randomness: 256
        bits unless told; never under 128 (a link that must fit a text message).

        With `pipe` (a pipeline of this store's Redis) the writes are only queued: the key
        exists once the caller executes the pipeline, in the same round trip as its other
        commands."""
        if action not in ACTIONS or not site_id or not subject:
            raise ValueError("an OTK needs a known action, a site and a subject")
        if nbytes < MIN_BYTES:
            raise ValueError(f"an OTK has at least {MIN_BYTES * 8} bits")
        ttl_ms = max(1, int((ttl_s if ttl_s is not None else self._ttls[action]) * 1000))
        token = secrets.token_urlsafe(nbytes)
        expires_ms = int(self._clock() * 1000) + ttl_ms
        claims = {"a": action, "s": site_id, "u": subject, "x": expires_ms, "d": dict(data or {})}
        name = _PREFIX + _hash(token)
        if groups or pipe is not None:
            batch = pipe if pipe is not None else self._redis.pipeline(transaction=False)
            batch.set(name, json.dumps(claims), px=ttl_ms)
            for group in groups:
                # A group lives as long as its longest-lived key, and no longer: a group
                # whose keys have all expired revokes nothing (NX: a new set has no TTL,
                # which GT would take for an endless one).
                batch.sadd(_GROUP + group, name)
                batch.pexpire(_GROUP + group, ttl_ms, nx=True)
                batch.pexpire(_GROUP + group, ttl_ms, gt=True)
            if pipe is None:
                batch.execute()
        else:
            self._redis.set(name, json.dumps(claims), px=ttl_ms)
        return IssuedOtk(token, datetime.fromtimestamp(expires_ms / 1000, UTC))

    def redeem(
        self, token: object, action: str, *, site_id: str = "", subject: str = ""
    ) -> OtkClaims:
        """Spend the key; VaultError for anything wrong, whatever the reason."""
        try:
            claims = self._run(token, action, site_id, subject, spend=True)
        except VaultError:
            REDEMPTIONS.labels(action if action in ACTIONS else "other", "refused").inc()
            raise
        REDEMPTIONS.labels(action, "redeemed").inc()
        return claims

    def peek(
        self, token: object, action: str, *, site_id: str = "", subject: str = ""
    ) -> OtkClaims:
        """Read the claims without spending (to show a form's title or validate first)."""
        return self._run(token, action, site_id, subject, spend=False)

    def restore(self, token: str, claims: OtkClaims) -> None:
        """Put a spent key back for its remaining life (the queue refused the submission)."""
        remaining_ms = int(claims.expires_at.timestamp() * 1000 - self._clock() * 1000)
        if remaining_ms <= 0:
            return
        raw = {
            "a": claims.action,
            "s": claims.site_id,
            "u": claims.subject,
            "x": int(claims.expires_at.timestamp() * 1000),
            "d": claims.data,
        }
        self._redis.set(_PREFIX + _hash(token), json.dumps(raw), px=remaining_ms, nx=True)

    def revoke_group(self, group: str) -> int:
        """Spend every outstanding key of a group at once; answers how many were live."""
        return int(self._revoke(keys=[_GROUP + group]))

    def _run(
        self, token: object, action: str, site_id: str, subject: str, *, spend: bool
    ) -> OtkClaims:
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token) or action not in ACTIONS:
            raise VaultError()
        raw = self._redeem(
            keys=[_PREFIX + _hash(token)], args=[action, site_id, subject, "1" if spend else "0"]
        )
        if not raw:
            raise VaultError()
        claims = json.loads(raw)
        return OtkClaims(
            action=claims["a"],
            site_id=claims["s"],
            subject=claims["u"],
            expires_at=datetime.fromtimestamp(claims["x"] / 1000, UTC),
            data=claims["d"] if isinstance(claims["d"], dict) else {},
        )
