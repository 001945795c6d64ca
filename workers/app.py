"""The Celery app, built from the settings. `celery -A workers.app` and `secureforms worker`
both load this module."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task, signals

from configs import Settings, load_settings
from configs.celery import QUEUE, celery_config
from configs.logging import REQUEST_ID_HEADER, bind_request_id, configure_logging
from core.audit import set_process_origin


def create_celery(settings: Settings) -> Celery:
    app = Celery("secureforms", set_as_current=True)
    app.config_from_object(celery_config(settings))
    app.conf.task_queues = None  # the default queue is created on demand
    return app


@signals.setup_logging.connect  # type: ignore[untyped-decorator]
def _logging(loglevel: int | str | None = None, **_: Any) -> None:
    """Worker and beat: ours instead of Celery's own set-up (a receiver here is what
    makes Celery leave the root logger alone), so its lines are redacted and rendered
    like every other."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else loglevel
    configure_logging(str(level or settings.log_level), settings.log_format)


@signals.task_prerun.connect  # type: ignore[untyped-decorator]
def _bind_request_id(task: Task | None = None, **_: Any) -> None:
    """A task's lines carry the id of the HTTP request that queued it (a message header
    set by producers.Publisher); a task from beat carries none."""
    given = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    bind_request_id(given if isinstance(given, str) else None)


@signals.task_postrun.connect  # type: ignore[untyped-decorator]
def _unbind_request_id(**_: Any) -> None:
    bind_request_id(None)


settings = load_settings()
set_process_origin("worker")  # audit entries written by tasks say where they came from
app = create_celery(settings)

# Importing registers the tasks on `app`.
from workers import tasks  # noqa: E402,F401

__all__ = ["QUEUE", "app", "create_celery", "settings"]
