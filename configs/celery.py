"""Celery configuration as data, shared by the producer (api) and the workers."""

from __future__ import annotations

from typing import Any

from configs.settings import Settings

QUEUE = "secureforms"
# What the api publishes, taken by the worker several at a time (workers.tasks); one that
# fails among them is handed to TOKENIZE_ONE_TASK, with its own retries.
TOKENIZE_TASK = "secureforms.tokenize_submission"
TOKENIZE_ONE_TASK = "secureforms.tokenize_one"
# Several submissions in one message: the api's group commit (producers.group_commit).
TOKENIZE_GROUP_TASK = "secureforms.tokenize_group"
NOOP_TASK = "secureforms.noop"
SWEEP_TASK = "secureforms.sweep_expired_requests"
PURGE_TASK = "secureforms.retention_purge"
REWRAP_TASK = "secureforms.rewrap_data_keys"
# Webhook deliveries have a queue of their own, consumed by `secureforms worker --queues
# webhooks`: a receiver that is slow or down holds up those processes, never submissions.
WEBHOOK_QUEUE = "secureforms.webhooks"
WEBHOOK_TASK = "secureforms.deliver_webhooks"


def celery_config(settings: Settings) -> dict[str, Any]:
    transport_options: dict[str, Any] = {}
    transport: str | None = None
    if settings.broker_url.startswith("redis://"):
        # kombu's, sending the same commands without a new client object for each one
        # (rediss:// keeps kombu's own: its TLS set-up is not something to re-verify here)
        transport = "producers.redis_transport:Transport"
    if settings.broker_url.startswith(("redis://", "rediss://")):
        transport_options = {
            # Unacked messages of a worker that died come back after this long; tasks are
            # idempotent and take milliseconds, so it can be short.
            "visibility_timeout": settings.broker_visibility_timeout_s,
            # kombu looks for a dead worker's unacked messages only every interval x
            # throttle seconds (100 s by default): keep that within the timeout.
            "unacked_restore_interval": max(1, min(10, settings.broker_visibility_timeout_s // 2)),
            "unacked_restore_throttle": 1,
            # The sweep's lock is a Redis key that outlives a broker killed mid-sweep (its
            # DEL never ran, the AOF kept the SET): held for kombu's 300 s, no worker
            # restores anything for five minutes. Sweeps take well under a second and
            # restore each message in a WATCH transaction, so a short lock is safe.
            "unacked_mutex_expire": max(2, min(30, settings.broker_visibility_timeout_s)),
            "socket_connect_timeout": settings.publish_timeout_s,
            "socket_timeout": max(settings.publish_timeout_s, 5.0),
        }
        if transport:
            # One list per queue: our transport waits with BLMOVE, which watches one list
            # (no task here is published with a priority).
            transport_options["priority_steps"] = [0]
    else:
        # py-amqp waits for the broker's publisher confirm before send_task returns.
        transport_options = {"confirm_publish": True}
    return {
        "broker_url": settings.broker_url,
        "broker_transport": transport,
        "broker_transport_options": transport_options,
        "broker_connection_timeout": settings.publish_timeout_s,
        "broker_connection_retry_on_startup": True,
        "broker_pool_limit": 20,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_default_queue": QUEUE,
        "task_routes": {WEBHOOK_TASK: {"queue": WEBHOOK_QUEUE}},
        "task_create_missing_queues": True,
        # A process reserves at least a batch: the batches fill from what is reserved.
        "worker_prefetch_multiplier": max(settings.worker_prefetch, settings.worker_batch_size),
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_concurrency": settings.worker_concurrency,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_enable_remote_control": False,
        "enable_utc": True,
        "timezone": "UTC",
        # Retention and sweeps run from beat; tasks never carry long ETAs (Redis
        # visibility timeouts would duplicate them).
        "beat_schedule": {
            "sweep-expired-requests": {
                "task": SWEEP_TASK,
                "schedule": float(settings.sweep_interval_s),
            },
            "retention-purge": {
                "task": PURGE_TASK,
                "schedule": float(settings.purge_interval_s),
            },
            "rewrap-data-keys": {
                "task": REWRAP_TASK,
                "schedule": float(settings.rewrap_interval_s),
            },
            "deliver-webhooks": {
                "task": WEBHOOK_TASK,
                "schedule": float(settings.webhook_poll_interval_s),
                # With no webhook worker running, beat's ticks expire instead of piling up.
                "options": {
                    "queue": WEBHOOK_QUEUE,
                    "expires": float(max(10, 5 * settings.webhook_poll_interval_s)),
                },
            },
        },
    }
