"""Tasks are thin: they take ids and sealed events and call core and the vault.

Every task here is idempotent, runs with acks_late, and never returns or logs a value.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError

from configs.celery import NOOP_TASK, TOKENIZE_TASK
from core import form_requests
from core.runtime import Runtime
from core.submissions import accept_submission
from producers import open_event
from vault import VaultError
from workers.app import app, settings

log = logging.getLogger(__name__)
_TRANSIENT = (OperationalError, RedisConnectionError, RedisTimeoutError)


class RuntimeTask(Task):  # type: ignore[misc]
    """Owns one Runtime per worker process, built lazily after the fork."""

    _runtime: Runtime | None = None
    _pid: int | None = None
    _lock = threading.Lock()

    @property
    def rt(self) -> Runtime:
        with self._lock:
            if RuntimeTask._runtime is None or RuntimeTask._pid != os.getpid():
                RuntimeTask._runtime = Runtime.from_settings(settings)
                RuntimeTask._pid = os.getpid()
            return RuntimeTask._runtime


@app.task(  # type: ignore[untyped-decorator]
    name=TOKENIZE_TASK,
    base=RuntimeTask,
    bind=True,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=20,
)
def tokenize_submission(self: RuntimeTask, submission_id: str, sealed: str) -> None:
    try:
        event = open_event(self.rt.keyring, submission_id, sealed)
    except VaultError:
        # Retrying cannot help a message that does not open; say so without its content.
        log.error("submission %s: event does not open (tampered or foreign key)", submission_id)
        return
    delivered = accept_submission(self.rt, **event.as_kwargs())
    log.info("submission %s %s", submission_id, "stored" if delivered else "already done")


@app.task(name=NOOP_TASK, base=RuntimeTask, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def noop(self: RuntimeTask, marker: str) -> None:
    self.rt.redis.incr(f"sf:bench:{marker}")


@app.task(  # type: ignore[untyped-decorator]
    name="secureforms.sweep_expired_requests", base=RuntimeTask, bind=True
)
def sweep_expired_requests(self: RuntimeTask) -> Any:
    count = form_requests.sweep_expired(self.rt)
    if count:
        log.info("marked %d form requests expired", count)
