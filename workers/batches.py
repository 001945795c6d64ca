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
from typing import Any

from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task


class AckedBatches(Batches):  # type: ignore[misc]
    """`run(requests)` returns the ids of the requests to ack."""

    abstract = True

    def flush(self, requests: Collection[Request]) -> Any:
        batch = [SimpleRequest.from_request(r) for r in requests]

        def on_return(done: Sequence[str] | None) -> None:
            finished = set(done or ())
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
