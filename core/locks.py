"""Periodic work that must happen once even when two beats run by mistake."""

from __future__ import annotations

import time

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
    """A Redis lock for work that must not overlap (a purge that runs long)."""

    def __init__(self, rt: Runtime, name: str, ttl_s: int) -> None:
        self._rt = rt
        self._name = f"sf:lock:{name}"
        self._ttl_s = ttl_s
        self.acquired = False

    def __enter__(self) -> HeldLock:
        self.acquired = bool(self._rt.redis.set(self._name, "1", nx=True, ex=self._ttl_s))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.acquired:
            self._rt.redis.delete(self._name)
