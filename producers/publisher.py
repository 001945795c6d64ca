"""Publishing sealed events to the queue by task name, with broker confirmation.

`publish_submission` returns only after the broker has the message (a Redis LPUSH that
returned, or an AMQP publisher confirm); anything else raises PublishFailed so the api
can answer 503 and give the visitor their key back.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from celery import Celery

from configs import Settings
from configs.celery import NOOP_TASK, TOKENIZE_GROUP_TASK, TOKENIZE_TASK, celery_config
from configs.logging import REQUEST_ID_HEADER, current_request_id
from producers.events import seal_event
from producers.queue_depth import PUBLISHED_AT_HEADER
from vault import Cipher, Submission

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not take the message; nothing was queued."""


class Publisher:
    def __init__(self, settings: Settings, keyring: Cipher) -> None:
        self._keyring = keyring
        self._timeout = settings.publish_timeout_s
        self._celery = Celery("secureforms-producer", set_as_current=False)
        self._celery.config_from_object(celery_config(settings))
        self._amqp = not settings.broker_url.startswith(("redis://", "rediss://"))

    def _send(self, name: str, args: list[Any], task_id: str | None = None) -> None:
        request_id = current_request_id()
        # RabbitMQ's management API shows the head message's AMQP timestamp (whole seconds:
        # py-amqp sends it as an integer), how the queue's collector reads its age there.
        stamp: dict[str, Any] = {"timestamp": int(time.time())} if self._amqp else {}
        try:
            self._celery.send_task(
                name,
                args=args,
                task_id=task_id,
                # The queue's collector reads the oldest message's age from the first; the
                # worker's lines for this task carry the api request's id from the second.
                headers={
                    PUBLISHED_AT_HEADER: time.time(),
                    **({REQUEST_ID_HEADER: request_id} if request_id else {}),
                },
                retry=True,
                retry_policy={
                    "max_retries": 2,
                    "interval_start": 0.1,
                    "interval_step": 0.2,
                    "interval_max": 0.5,
                },
                **stamp,
            )
        except Exception as exc:  # kombu raises many types; all mean "not queued"
            log.warning("broker refused task %s: %s", name, exc.__class__.__name__)
            raise PublishFailed() from None

    def publish_submission(self, submission: Submission) -> None:
        self.publish_sealed(submission.submission_id, self.seal(submission))

    def seal(self, submission: Submission) -> str:
        return seal_event(self._keyring, submission)

    def publish_sealed(self, submission_id: str, sealed: str) -> None:
        self._send(TOKENIZE_TASK, [submission_id, sealed], task_id=submission_id)

    def publish_group(self, group: list[tuple[str, str, str | None]]) -> None:
        """Several sealed submissions in one message (producers.group_commit), each as
        `(submission id, sealed, id of the HTTP request that sent it)`."""
        self._send(TOKENIZE_GROUP_TASK, [[list(item) for item in group]], task_id=str(uuid.uuid4()))

    def publish_noop(self, marker: str) -> None:
        """A task that does nothing: the benchmark's floor for the broker round trip."""
        self._send(NOOP_TASK, [marker])

    def publish_task(self, name: str) -> None:
        """A maintenance task that takes no arguments (re-wrap keys now, say)."""
        self._send(name, [])

    def ping(self) -> bool:
        try:
            with self._celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=self._timeout)
            return True
        except Exception:
            return False

    def close(self) -> None:
        self._celery.close()
