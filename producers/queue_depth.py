"""The broker queue's depth and the age of its oldest message, for Prometheus, read
without taking anything off the queue.

- Redis broker: `LLEN` of the queue's list, and `LINDEX -1` (kombu pushes on the left,
  workers take from the right: index -1 is the oldest) to read the published-at header
  the Publisher stamps on every message.
- RabbitMQ: a passive `queue.declare` answers the number of ready messages. AMQP has no
  way to look at a message without taking it (a get and a requeue would mark it
  redelivered), so the age is not exported there; RabbitMQ's own `rabbitmq_prometheus`
  plugin reports more of the broker.

Hand-written rather than an exporter's: it is the app's one queue, in the app's own
broker settings, and a collector this small is what prometheus-client asks for.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import redis
from kombu import connection as _kombu_connection
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from configs import Settings
from configs.celery import QUEUE

log = logging.getLogger(__name__)
Connection: Any = _kombu_connection.Connection  # kombu is typed in part only
# A message header holding the time the producer published it (seconds since the epoch).
PUBLISHED_AT_HEADER = "sf_published_at"


class QueueCollector(Collector):
    def __init__(self, settings: Settings, queue: str = QUEUE) -> None:
        self._url = settings.broker_url
        self._queue = queue
        self._timeout = max(1.0, settings.publish_timeout_s)
        self._is_redis = self._url.startswith(("redis://", "rediss://"))

    def describe(self) -> Iterable[Metric]:
        """The families without a look at the broker (registering asks for these)."""
        return _families()

    def collect(self) -> Iterable[Metric]:
        up, depth, age = _families()
        try:
            count, oldest = self._look()
        except Exception as exc:  # any broker failure: say so, the scrape goes on
            log.warning("queue depth: the broker did not answer (%s)", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        depth.add_metric([self._queue], count)
        yield up
        yield depth
        if oldest is not None:
            age.add_metric([self._queue], oldest)
            yield age

    def _look(self) -> tuple[int, float | None]:
        if self._is_redis:
            return self._look_redis()
        return self._look_amqp(), None

    def _look_redis(self) -> tuple[int, float]:
        # A connection per look (one every scrape interval): nothing held open to close.
        with redis.Redis.from_url(
            self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
        ) as client:
            pipe = client.pipeline(transaction=True)
            pipe.llen(self._queue)
            pipe.lindex(self._queue, -1)
            count, head = pipe.execute()
        return int(count), _age(head)

    def _look_amqp(self) -> int:
        with Connection(self._url, connect_timeout=self._timeout) as conn:
            channel = conn.channel()
            try:
                _, ready, _ = channel.queue_declare(queue=self._queue, passive=True)
            except conn.channel_errors:
                return 0  # not declared yet: no worker or producer has used it
            return int(ready)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "secureforms_queue_stats_up", "1 when the broker answered this look at the queue."
        ),
        GaugeMetricFamily(
            "secureforms_queue_depth",
            "Messages waiting in the broker queue for a worker (taken ones not counted).",
            labels=["queue"],
        ),
        GaugeMetricFamily(
            "secureforms_queue_oldest_age_seconds",
            "Age of the oldest waiting message, 0 when none waits (Redis broker only).",
            labels=["queue"],
        ),
    )


def _age(raw: bytes | None) -> float:
    """Seconds since the message's published-at header; 0 for none (or an unstamped one)."""
    if raw is None:
        return 0.0
    try:
        stamped = float(json.loads(raw)["headers"][PUBLISHED_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return 0.0
    return max(0.0, time.time() - stamped)
