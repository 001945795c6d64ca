"""Periodic work that must happen once even when two beats run by mistake."""

from __future__ import annotations

import contextlib
import time

from redis.exceptions import LockError

from core.runtime import Runtime


def claim_slot(rt: Runtime, name: str, every_s: float, *, now: float | None = None) -> bool:
    """True for the first caller in this `every_s`-long time slot, False for the rest.

    Two beats each send the task once per interval; the slot key makes the second one a
    no-op instead of a second purge.
    """
    moment = time.time() if now is None else now
    slot = int(moment // every_s)
    return bool(rt.redis.set(f"sf:slot:{name}:{slot}", "1", nx=True, ex=int(every_s) + 60))


class HeldLock:
    """A Redis lock for work that must not overlap (a purge that runs long).

    redis-py's `Lock`: its key holds a token of this holder, and release deletes the key
    only while the token is still there. A lock that outlived its TTL and was taken by
    another holder is left to that holder.
    """

    def __init__(self, rt: Runtime, name: str, ttl_s: int) -> None:
        # thread_local=False: the token lives on this object, which one `with` block uses.
        self._lock = rt.redis.lock(f"sf:lock:{name}", timeout=ttl_s, thread_local=False)
        self.acquired = False

    def __enter__(self) -> HeldLock:
        self.acquired = bool(self._lock.acquire(blocking=False))
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.acquired:
            return
        self.acquired = False
        # Expired meanwhile: the key is gone or another holder's, not ours to delete.
        with contextlib.suppress(LockError):
            self._lock.release()
