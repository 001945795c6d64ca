"""HeldLock in a real Redis: one holder at a time, and a holder whose lock expired never
deletes the lock someone else took since."""

from __future__ import annotations

from core.locks import HeldLock
from core.runtime import Runtime


def test_a_held_lock_keeps_a_second_holder_out_until_released(rt: Runtime) -> None:
    with HeldLock(rt, "test-overlap", 60) as first:
        assert first.acquired
        with HeldLock(rt, "test-overlap", 60) as second:
            assert not second.acquired
        assert rt.redis.exists("sf:lock:test-overlap")  # the refused one deleted nothing
    with HeldLock(rt, "test-overlap", 60) as again:
        assert again.acquired
    assert not rt.redis.exists("sf:lock:test-overlap")


def test_an_expired_holder_does_not_release_the_next_holders_lock(rt: Runtime) -> None:
    name = "sf:lock:test-expired"
    with HeldLock(rt, "test-expired", 60) as slow:
        assert slow.acquired
        rt.redis.delete(name)  # its TTL ran out while it worked (deleted, not waited for)
        with HeldLock(rt, "test-expired", 60) as next_holder:
            assert next_holder.acquired
            token = rt.redis.get(name)
            slow.__exit__(None, None, None)  # the slow holder finishes now
            assert rt.redis.get(name) == token, "the slow holder deleted the new lock"
    assert not rt.redis.exists(name)
