"""The broker queue's depth and the age of its oldest message, for Prometheus, read
without taking anything off the queue.

- Redis broker: `LLEN` of the queue's list, and `LINDEX -1` (kombu pushes on the left,
  workers take from the right: index -1 is the oldest) to read the published-at header
  the Publisher stamps on every message.
- RabbitMQ: a passive `queue.declare` answers the number of ready messages. AMQP has no
  way to look at a message without taking it (a get and a requeue would mark it
  redelivered), so the age comes from the management plugin's HTTP API instead: its
  `head_message_timestamp` is the AMQP `timestamp` property the Publisher sets on every
  message. The API is the broker's host on port 15672 with the broker's user unless
  `broker_management_url` names another; without it the depth is still exported, the age
  is not. RabbitMQ's own `rabbitmq_prometheus` plugin reports more of the broker.

Hand-written rather than an exporter's: it is the app's one queue, in the app's own
broker settings, and a collector this small is what prometheus-client asks for.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
import requests
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
        self._management = None if self._is_redis else management_api(settings)

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
        return self._look_amqp(), self._look_management()

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

    def _look_management(self) -> float | None:
        """The head message's age from RabbitMQ's management API; None when it can't say."""
        if self._management is None:
            return None
        url, auth = self._management
        try:
            answer = requests.get(
                f"{url}/{quote(self._queue, safe='')}",
                auth=auth,
                timeout=self._timeout,
                params={"columns": "messages_ready,head_message_timestamp"},
            )
        except requests.RequestException as exc:
            log.info("queue age: the management API did not answer (%s)", type(exc).__name__)
            return None
        if answer.status_code == 404:
            return 0.0  # the queue is not declared yet: nothing waits
        if answer.status_code != 200:
            log.info("queue age: the management API answered %d", answer.status_code)
            return None
        stamped = answer.json().get("head_message_timestamp")
        if not isinstance(stamped, (int, float)):
            return 0.0  # an empty queue has no head
        return max(0.0, time.time() - float(stamped))


def management_api(settings: Settings) -> tuple[str, tuple[str, str]] | None:
    """The management API's queue URL of the broker's vhost, and the user to ask as."""
    broker = urlsplit(settings.broker_url)
    given = urlsplit(settings.broker_management_url or "")
    if given.scheme not in ("", "http", "https"):
        return None
    source = given if given.hostname else broker
    scheme = given.scheme or "http"
    host = source.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    port = given.port or 15672
    user = unquote(source.username or "guest")
    password = unquote(source.password or "guest")
    vhost = unquote(broker.path[1:]) if len(broker.path) > 1 else "/"
    base = f"{scheme}://{host}:{port}{given.path.rstrip('/')}"
    return f"{base}/api/queues/{quote(vhost, safe='')}", (user, password)


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
            "Age of the oldest waiting message in seconds, 0 when none waits.",
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
