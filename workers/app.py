"""The Celery app, built from the settings. `celery -A workers.app` and `secureforms worker`
both load this module."""

from __future__ import annotations

from celery import Celery

from configs import Settings, load_settings
from configs.celery import QUEUE, celery_config
from core.audit import set_process_origin


def create_celery(settings: Settings) -> Celery:
    app = Celery("secureforms", set_as_current=True)
    app.config_from_object(celery_config(settings))
    app.conf.task_queues = None  # the default queue is created on demand
    return app


settings = load_settings()
set_process_origin("worker")  # audit entries written by tasks say where they came from
app = create_celery(settings)

# Importing registers the tasks on `app`.
from workers import tasks  # noqa: E402,F401

__all__ = ["QUEUE", "app", "create_celery", "settings"]
