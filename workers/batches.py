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
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import count
from queue import Queue
from typing import Any

from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task


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
        return super().Strategy(task, app, consumer)

    def flush(self, requests: Collection[Request]) -> Any:
        batch = [SimpleRequest.from_request(r) for r in requests]

        def on_return(done: Sequence[str] | None) -> None:
            # A list from the task; None when it raised (celery_batches logs it), and an
            # ExceptionInfo from the threads and solo pools, which have no error callback.
            finished = set(done) if isinstance(done, list | tuple) else set()
            for request in requests:
                if request.id in finished:
                    request.acknowledge()
                else:
                    request.reject(requeue=True)

        def on_lost(_exc: BaseException) -> None:
            for request in requests:
                request.reject(requeue=True)

        return self._pool.apply_async(
            apply_batches_task,
            (self, (batch,), 0, None),
            callback=on_return,
            error_callback=on_lost,
        )
