"""The Redis broker transport: kombu's, with one client per pool instead of one per command."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kombu import Connection, Exchange, Queue
from support import redis_dbs

from configs import load_settings
from configs.celery import celery_config
from producers.redis_transport import Channel, Transport


@pytest.fixture
def broker_url() -> Iterator[str]:
    with redis_dbs.locked_db() as db:
        url = redis_dbs.url(db)
        with Connection(url) as conn:
            conn.default_channel.client.flushdb()
        yield url


def test_redis_brokers_get_this_transport_and_others_do_not() -> None:
    redis_conf = celery_config(load_settings({"SECUREFORMS_BROKER_URL": "redis://h:6379/1"}))
    assert redis_conf["broker_transport"] == "producers.redis_transport:Transport"
    rabbit_conf = celery_config(load_settings({"SECUREFORMS_BROKER_URL": "amqp://guest@h//"}))
    assert rabbit_conf["broker_transport"] is None


def test_messages_go_through_one_client_and_all_arrive(broker_url: str) -> None:
    queue = Queue("sf-transport-test", Exchange("sf-transport-test"), "sf-transport-test")
    with Connection(broker_url, transport=Transport) as conn:
        channel = conn.channel()
        assert isinstance(channel, Channel)
        producer = conn.Producer(channel)
        for i in range(3):
            producer.publish(
                {"n": i},
                exchange=queue.exchange,
                routing_key="sf-transport-test",
                declare=[queue],
                serializer="json",
            )
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second  # one client, kept
        received = []
        with conn.SimpleQueue(queue) as simple:
            for _ in range(3):
                message = simple.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
        channel.close()
    assert sorted(received) == [0, 1, 2]


def test_a_client_passed_in_is_used_as_is(broker_url: str) -> None:
    with Connection(broker_url, transport=Transport) as conn:
        channel = conn.channel()
        mine = object()
        with channel.conn_or_acquire(mine) as client:
            assert client is mine
        channel.close()
