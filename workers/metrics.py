"""The worker's Prometheus metrics (prometheus-client).

`secureforms worker` serves them on `--metrics-port`, from its main process; the tasks
run in the pool's children, which write their counts to the multiprocess directory that
the command prepared (cli.metrics), so the one endpoint adds every child up.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from celery import signals
from prometheus_client import Counter, Histogram, multiprocess

from configs.celery import TOKENIZE_ONE_TASK
from core.clock import utcnow

STORED = Counter(
    "secureforms_worker_submissions_stored",
    "Submissions stored in the vault and notified (a redelivery of a stored one not counted).",
)
DUPLICATES = Counter(
    "secureforms_worker_submissions_duplicate",
    "Deliveries of a submission that was already stored (idempotent: nothing changed).",
)
REDELIVERED = Counter(
    "secureforms_worker_submissions_redelivered",
    "Submission messages the broker delivered again (a worker died or did not ack in time).",
)
RETRIED = Counter(
    "secureforms_worker_submissions_retried",
    "Submission tasks retried after a transient database or Redis error.",
)
FAILED = Counter(
    "secureforms_worker_submissions_failed",
    "Submissions that could not be stored, by reason: error (retries exhausted or a "
    "permanent error) or unreadable (the event does not open).",
    ["reason"],
)
SUBMIT_TO_STORED = Histogram(
    "secureforms_worker_submit_to_stored_seconds",
    "Time from the visitor's submit (the event's submitted_at) to stored in the vault.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
BATCH_SIZE = Histogram(
    "secureforms_worker_batch_submissions",
    "Submissions stored together in one batch (one transaction). Batches grow while every "
    "pool process is busy: mostly 1 means the workers keep up with room to spare; many at "
    "worker_batch_size means they are at their limit.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
PURGED = Counter(
    "secureforms_worker_purged_submissions",
    "Submissions deleted by the retention purge.",
)
SHREDDED = Counter(
    "secureforms_worker_shredded_keys",
    "Month data keys destroyed by the retention purge (crypto-shredding).",
)
REWRAPPED = Counter(
    "secureforms_worker_rewrapped_keys",
    "Data keys re-wrapped under the primary key by the re-wrap task.",
)


def stored(submitted_at: datetime) -> None:
    STORED.inc()
    seconds = (utcnow() - submitted_at).total_seconds()
    SUBMIT_TO_STORED.observe(max(0.0, seconds))  # clocks of two hosts may disagree a little


def delivered(request: Any) -> None:
    """Counts a task's delivery that the broker marked as a second one."""
    if (getattr(request, "delivery_info", None) or {}).get("redelivered"):
        REDELIVERED.inc()


def _retried(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) == TOKENIZE_ONE_TASK:
        RETRIED.inc()


def _failed(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) == TOKENIZE_ONE_TASK:
        FAILED.labels("error").inc()


def _child_exits(pid: int | None = None, **_: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


# Called rather than used as decorators: celery's are untyped.
signals.task_retry.connect(_retried)
signals.task_failure.connect(_failed)
signals.worker_process_shutdown.connect(_child_exits)
