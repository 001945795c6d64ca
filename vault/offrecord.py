"""Off-the-record answers (CVV and friends): encrypted in Redis with a TTL, never in a DB.

A value can be taken once. Taking leaves a small tombstone so the agent can be told
"already viewed" rather than "expired"; the tombstone holds no data.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis import Redis

from vault.keyring import Keyring
from vault.sealed_fields import open_fields, seal_fields

_PURPOSE = "offrecord"
_TOMBSTONE_TTL_MS = 24 * 3600 * 1000

_TAKE = """
local raw = redis.call('GET', KEYS[1])
if raw then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  return {'available', raw}
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'already_viewed', ''} end
return {'expired', ''}
"""

AVAILABLE, EXPIRED, ALREADY_VIEWED = "available", "expired", "already_viewed"


def _key(site_id: str, submission_id: str) -> str:
    return f"sf:offrec:{site_id}:{submission_id}"


def _tombstone(site_id: str, submission_id: str) -> str:
    return f"sf:offrec-viewed:{site_id}:{submission_id}"


class OffRecordStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self._redis = redis
        self._keyring = keyring
        self._take = redis.register_script(_TAKE)

    def put(self, site_id: str, submission_id: str, values: Mapping[str, str], ttl_ms: int) -> bool:
        """Keep sealed values for `ttl_ms`; NX so a redelivered message cannot revive them."""
        if not values:
            return False
        if self._redis.exists(_tombstone(site_id, submission_id)):
            return False
        blob = seal_fields(self._keyring, _PURPOSE, site_id, submission_id, values)
        return bool(self._redis.set(_key(site_id, submission_id), blob, px=ttl_ms, nx=True))

    def take(self, site_id: str, submission_id: str) -> tuple[str, dict[str, str]]:
        """(status, values): values only when status is `available`; the value is gone after."""
        status, blob = self._take(
            keys=[_key(site_id, submission_id), _tombstone(site_id, submission_id)],
            args=[_TOMBSTONE_TTL_MS],
        )
        status = status.decode() if isinstance(status, bytes) else str(status)
        if status != AVAILABLE:
            return status, {}
        raw = blob if isinstance(blob, bytes) else str(blob).encode()
        return status, open_fields(self._keyring, _PURPOSE, site_id, submission_id, raw)

    def ttl_ms(self, site_id: str, submission_id: str) -> int:
        return int(self._redis.pttl(_key(site_id, submission_id)))

    def delete(self, site_id: str, submission_id: str) -> None:
        self._redis.delete(_key(site_id, submission_id))
