"""When AckedBatches counts the pool as busy (its flush decision; the batches themselves
are tested across real processes in tests/integration/test_batch_worker.py)."""

from __future__ import annotations

from time import monotonic
from types import SimpleNamespace

from workers.batches import STALE_S, AckedBatches


class _Batches(AckedBatches):  # type: ignore[misc]
    name = "test.batches"

    def run(self, requests: list[object]) -> list[str]:
        return []


def _batches(processes: int, running: dict[int, float]) -> _Batches:
    task = _Batches()
    task._pool = SimpleNamespace(num_processes=processes)
    task._running = dict(running)
    return task


def test_busy_once_every_process_has_a_batch() -> None:
    now = monotonic()
    assert not _batches(2, {})._busy()
    assert not _batches(2, {1: now})._busy()
    assert _batches(2, {1: now, 2: now})._busy()
    assert _batches(1, {1: now})._busy()


def test_a_batch_whose_return_never_came_stops_counting() -> None:
    stale = monotonic() - STALE_S - 1
    task = _batches(1, {7: stale})
    assert not task._busy()  # a smaller batch must not wait behind it for ever
    assert task._running == {}  # and it is forgotten
    fresh = _batches(1, {7: monotonic() - STALE_S + 5})
    assert fresh._busy()
