"""Off-the-record answers (CVV and friends): encrypted in Redis with a TTL, never in a DB.

A value can be taken once. Taking leaves a small tombstone so the agent can be told
"already viewed" rather than "expired"; the tombstone holds no data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from redis import Redis
from redis.client import Pipeline

from vault.sealed_fields import Cipher, open_fields, seal_fields

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

# Checks the tombstone and writes in one step: a take() between the two would otherwise
# let a redelivered message bring back a value the agent already viewed.
_PUT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local opts = ARGV[3] == '' and {'PX', ARGV[2]} or {'PXAT', ARGV[3]}
if redis.call('SET', KEYS[1], ARGV[1], opts[1], opts[2], 'NX') then return 1 end
return 0
"""

AVAILABLE, EXPIRED, ALREADY_VIEWED = "available", "expired", "already_viewed"


def _key(site_id: str, submission_id: str) -> str:
    return f"sf:offrec:{site_id}:{submission_id}"


def _tombstone(site_id: str, submission_id: str) -> str:
    return f"sf:offrec-viewed:{site_id}:{submission_id}"


class OffRecordStore:
    def __init__(self, redis: Redis, keyring: Cipher) -> None:
        self._redis = redis
        self._keyring = keyring
        self._take = redis.register_script(_TAKE)
        self._put = redis.register_script(_PUT)

    def put(
        self,
        site_id: str,
        submission_id: str,
        values: Mapping[str, str],
        ttl_ms: int,
        *,
        expires_at_ms: int | None = None,
        pipe: Pipeline | None = None,
    ) -> bool:
        """Keep sealed values for `ttl_ms` (or until the absolute `expires_at_ms`).

        NX and the tombstone check mean a redelivered message can neither overwrite nor
        revive a value; an absolute deadline means a late redelivery can't extend it.
        With `pipe` the write is queued there and this answers only whether it was.
        """
        if not values or not site_id:
            return False
        if expires_at_ms is not None and expires_at_ms <= time.time() * 1000:
            return False
        blob = seal_fields(self._keyring, _PURPOSE, site_id, submission_id, values)
        stored = self._put(
            keys=[_key(site_id, submission_id), _tombstone(site_id, submission_id)],
            args=[blob, max(1, int(ttl_ms)), "" if expires_at_ms is None else int(expires_at_ms)],
            client=pipe,
        )
        return True if pipe is not None else bool(stored)

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

    def peek(self, site_id: str, submission_id: str) -> dict[str, str]:
        """The values, left in place ({} when gone): a forward reads the CVV, and takes it
        only once the processor has accepted the card, so a failed forward loses nothing."""
        blob = self._redis.get(_key(site_id, submission_id))
        if blob is None:
            return {}
        raw = blob if isinstance(blob, bytes) else str(blob).encode()
        return open_fields(self._keyring, _PURPOSE, site_id, submission_id, raw)

    def ttl_ms(self, site_id: str, submission_id: str) -> int:
        return int(self._redis.pttl(_key(site_id, submission_id)))

    def delete(self, site_id: str, submission_id: str) -> None:
        self._redis.delete(_key(site_id, submission_id))
