"""A Celery task that takes its messages several at a time (celery-batches), and acks each
one only once the task says it is done.

celery-batches buffers a task's messages in the worker's consumer and hands them to a pool
process as one list: one call, so one transaction, for up to `flush_every` messages that
arrived within `flush_interval` seconds. Its own `flush` acks every message of a batch
when the call returns, even when the call raised, and leaves them unacked forever when the
pool process dies. Ours keeps the library's buffering and changes only that: the task
returns the ids of the messages it is done with (stored, or handed to another task); those
are acked, the rest go back to the queue, and so do all of them when the process running
the batch is lost (as `task_reject_on_worker_lost` does for one message).

When to flush is ours too, on the prefork pool: the library's timer (`flush_interval`)
or a full buffer flushes only while a pool process is free; while every process is busy
the messages wait in the buffer, and a process that finishes takes them at once, so a
batch is as large as the load makes it. The library flushed whatever the pool was doing:
under load that queued many batches of one or two messages behind busy processes
(measured: 1.3 messages a batch with thousands waiting in the broker), each paying a
batch's fixed cost (two transactions, two Redis round trips). Flushing at once whenever a
process is free was tried too: no faster, and in an A/B pair on a saturated machine its
p99 was twice the timer's (smaller batches, more CPU a submission). The other pools
keep the library's timing: their callbacks run on pool threads, where flushing from them
would race the consumer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import count
from queue import Queue
from time import monotonic
from typing import Any

from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task

STALE_S = 60.0
_jobs = count(1)


class AckedBatches(Batches):  # type: ignore[misc]
    """`run(requests)` returns the ids of the requests to ack."""

    abstract = True

    def Strategy(self, task: Any, app: Any, consumer: Any) -> Any:
        # Built again each time the consumer (re)connects. What the last connection left
        # in the buffer cannot be acked on this one (a delivery tag belongs to its
        # channel), and the broker gives it again (RabbitMQ at once, Redis after the
        # visibility timeout): dropped, as Celery drops its own reserved requests then
        # (Consumer.on_close). The flush timer is started again by the next message; the
        # old one went with the old loop, and a stale handle would leave a batch smaller
        # than `flush_every` waiting for ever.
        self._buffer: Queue[Request] = Queue()
        self._pending: Queue[Request] = Queue()
        self._count = count(1)
        stale: Any = getattr(self, "_tref", None)
        if stale is not None:
            stale.cancel()
        self._tref = None
        # Batches of this connection still running, by when they were handed over (a new
        # dict: those of an older connection free nothing here when they return).
        self._running: dict[int, float] = {}
        return super().Strategy(task, app, consumer)

    def _slots(self) -> int:
        return max(1, int(getattr(self._pool, "num_processes", 1) or 1))

    def _busy(self) -> bool:
        """Every pool process has a batch of ours. One handed over longer ago than
        STALE_S no longer counts: should its callback never come, batches smaller than
        `flush_every` must not wait for ever (they would queue behind it instead)."""
        since = monotonic() - STALE_S
        for job in [job for job, at in self._running.items() if at <= since]:
            del self._running[job]
        return len(self._running) >= self._slots()

    def _adaptive(self) -> bool:
        return isinstance(self._pool, PreforkPool)

    def _do_flush(self) -> None:
        if self._adaptive() and self._buffer.qsize() < self.flush_every and self._busy():
            return  # every process is busy: the batch grows until one is free
        super()._do_flush()

    def _returned(self, job: int) -> None:
        self._running.pop(job, None)
        if self._adaptive() and not self._buffer.empty():
            self._do_flush()  # what waited while every process was busy

    def flush(self, requests: Collection[Request]) -> Any:
        batch = [SimpleRequest.from_request(r) for r in requests]
        job = next(_jobs)

        def on_return(done: Sequence[str] | None) -> None:
            # A list from the task; None when it raised (celery_batches logs it), and an
            # ExceptionInfo from the threads and solo pools, which have no error callback.
            finished = set(done) if isinstance(done, list | tuple) else set()
            for request in requests:
                if request.id in finished:
                    request.acknowledge()
                else:
                    request.reject(requeue=True)
            self._returned(job)

        def on_lost(_exc: BaseException) -> None:
            for request in requests:
                request.reject(requeue=True)
            self._returned(job)

        self._running[job] = monotonic()  # before: the solo pool runs it, callback and all, inline
        try:
            return self._pool.apply_async(
                apply_batches_task,
                (self, (batch,), 0, None),
                callback=on_return,
                error_callback=on_lost,
            )
        except BaseException:
            self._running.pop(job, None)
            raise
