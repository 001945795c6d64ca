"""The Redis broker transport: kombu's, with the pop and the unacked record one atomic
step, and one client per pool instead of one per command. Against the real Redis."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.utils.json import loads
from support import redis_dbs
from support.stack import free_port

from configs import load_settings
from configs.celery import celery_config
from producers.redis_transport import Channel, Transport

# Every kombu function producers/redis_transport.py overrides, copies the behaviour of, or
# writes records for, with a hash of its source as tested (kombu 5.7.0).
KOMBU_PINNED = {
    "kombu.transport.redis.Channel._brpop_start": "06723d707ddf2240",
    "kombu.transport.redis.Channel._brpop_read": "c42518699709f2df",
    "kombu.transport.redis.Channel._get": "be26a9f1eb4cf8da",
    "kombu.transport.redis.Channel.basic_consume": "34e0da85e689ff98",
    "kombu.transport.redis.Channel.conn_or_acquire": "25883caca6c4121e",
    "kombu.transport.redis.Channel._do_restore_message": "8b430df94e45b5b0",
    "kombu.transport.redis.Channel._restore": "92e63e38835b6592",
    "kombu.transport.redis.QoS.append": "35c655f6ecc62fe6",
    "kombu.transport.redis.QoS.ack": "1bc15a4ddf541af6",
    "kombu.transport.redis.QoS.reject": "747a02434344d1a6",
    "kombu.transport.redis.QoS.restore_visible": "d4a4a40a3eaf9f23",
    "kombu.transport.redis.QoS.restore_by_tag": "58e161d81b6fe18d",
    "kombu.transport.redis.QoS._remove_from_indices": "980a109d54ad9136",
    "kombu.transport.redis.MultiChannelPoller._register_BRPOP": "85724582464a615f",
    "kombu.transport.redis.MultiChannelPoller.on_readable": "c0d99f241607f845",
    "kombu.transport.virtual.base.Channel.basic_get": "ba4884c15b6bed6d",
    "kombu.transport.virtual.base.Channel.basic_consume": "0fec962694938b61",
    "kombu.transport.virtual.base.QoS.append": "b388f0cd6485c28a",
    "kombu.transport.virtual.base.QoS.ack": "0714292b916fecb2",
}
QNAME = "sf-transport-test"


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
    # BLMOVE watches one list: the one queue must be one list.
    assert redis_conf["broker_transport_options"]["priority_steps"] == [0]
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


def _source_hash(dotted: str) -> str:
    module_name, cls, name = dotted.rsplit(".", 2)
    obj = getattr(getattr(importlib.import_module(module_name), cls), name)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def test_the_kombu_code_this_transport_stands_on_has_not_changed() -> None:
    changed = sorted(n for n, digest in KOMBU_PINNED.items() if _source_hash(n) != digest)
    assert not changed, (
        f"kombu changed {changed} since producers/redis_transport.py was written against "
        "it. Re-read them and re-check the overrides there (the pop and the unacked "
        "record in one step, the in-flight list that restore_visible adopts), then record "
        "the new hashes in KOMBU_PINNED and the kombu pin in pyproject.toml."
    )


# -- the atomic pop ------------------------------------------------------------------------

TEST_QUEUE = Queue(QNAME, Exchange(QNAME), QNAME)


def _publish(conn: Any, *numbers: int, queue: Queue = TEST_QUEUE) -> None:
    producer = Producer(conn.default_channel)
    for n in numbers:
        producer.publish(
            {"n": n},
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            serializer="json",
        )


@pytest.fixture
def raw(broker_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(broker_url)
    yield client
    client.close()


def _state(raw: redis.Redis) -> tuple[int, int, int, int]:
    """(waiting, unacked records, unacked index entries, in flight)"""
    return (
        int(raw.llen(QNAME)),
        int(raw.hlen("unacked")),
        int(raw.zcard("unacked_index")),
        int(raw.llen("unacked_inflight")),
    )


def test_a_consumed_message_is_recorded_before_it_is_handled(
    broker_url: str, raw: redis.Redis
) -> None:
    seen: list[tuple[Any, ...]] = []

    def on_message(body: Any, message: Any) -> None:
        record = raw.hget("unacked", message.delivery_tag)
        seen.append((body["n"], _state(raw), loads(record) if record else None))
        message.ack()

    with Connection(broker_url, transport=Transport) as conn:
        _publish(conn, 7)
        channel = conn.channel()
        with Consumer(channel, [TEST_QUEUE], callbacks=[on_message], accept=["json"]):
            conn.drain_events(timeout=5)
        channel.close()
    ((n, state, record),) = seen
    assert n == 7
    assert state == (0, 1, 1, 0)
    # kombu's own record: [message, exchange, routing key], which restore_by_tag reads.
    assert record is not None and record[1:] == [QNAME, QNAME]
    assert _state(raw) == (0, 0, 0, 0)


def test_a_message_stranded_between_the_move_and_the_claim_comes_back(
    broker_url: str, raw: redis.Redis
) -> None:
    """Redis or the worker died after BLMOVE and before CLAIM: the message waits in the
    in-flight list, is adopted by the next sweep, and is redelivered after the timeout."""
    options = {"visibility_timeout": 1}
    with Connection(broker_url, transport=Transport, transport_options=options) as conn:
        _publish(conn, 1)
        assert raw.lmove(QNAME, "unacked_inflight", "RIGHT", "LEFT") is not None
        channel = conn.channel()
        channel.qos.restore_visible(interval=1)
        assert _state(raw) == (0, 1, 1, 0)  # adopted, not yet due
        time.sleep(1.2)
        channel.qos.restore_visible(interval=1)
        assert _state(raw) == (1, 0, 0, 0)  # back in the queue
        message = channel.basic_get(QNAME)
        assert message is not None and message.payload == {"n": 1}
        assert message.delivery_info["redelivered"] is True
        message.ack()
        channel.close()
    assert _state(raw) == (0, 0, 0, 0)


def test_a_claim_racing_the_sweep_delivers_once(broker_url: str, raw: redis.Redis) -> None:
    options = {"visibility_timeout": 1}
    with Connection(broker_url, transport=Transport, transport_options=options) as conn:
        _publish(conn, 1, 2)
        channel = conn.channel()
        # A consumer's BLMOVE took the message; the sweep adopts it before the claim:
        # the consumer still owns it.
        first = raw.lmove(QNAME, "unacked_inflight", "RIGHT", "LEFT")
        assert first is not None
        assert channel.adopt_inflight() == 1
        assert channel._claim(first, QNAME) is not None
        # Adopted and restored to the queue before the claim: the claim must let go.
        second = raw.lmove(QNAME, "unacked_inflight", "RIGHT", "LEFT")
        assert second is not None
        channel.adopt_inflight()
        time.sleep(1.2)
        channel.qos.restore_visible(interval=1)
        assert channel._claim(second, QNAME) is None
        waiting, _, _, inflight = _state(raw)
        assert (waiting, inflight) == (2, 0)  # both restored, neither lost
        channel.close()


def test_basic_get_records_atomically_and_keeps_kombus_reject_and_no_ack(
    broker_url: str, raw: redis.Redis
) -> None:
    with Connection(broker_url, transport=Transport) as conn:
        _publish(conn, 1, 2)
        channel = conn.channel()
        message = channel.basic_get(QNAME)
        assert message is not None and message.payload == {"n": 1}
        assert raw.hexists("unacked", message.delivery_tag)
        assert _state(raw) == (1, 1, 1, 0)
        message.reject(requeue=True)
        assert _state(raw) == (2, 0, 0, 0)
        taken = channel.basic_get(QNAME, no_ack=True)
        assert taken is not None and taken.payload == {"n": 2}
        assert _state(raw) == (1, 0, 0, 0)  # no_ack: no record, as in kombu
        channel.close()


def test_a_channel_on_several_lists_gets_from_each(broker_url: str, raw: redis.Redis) -> None:
    other = Queue(QNAME + "-b", Exchange(QNAME + "-b"), QNAME + "-b")
    got: list[int] = []

    def on_message(body: Any, message: Any) -> None:
        got.append(body["n"])
        message.ack()

    try:
        with Connection(broker_url, transport=Transport) as conn:
            _publish(conn, 1)
            _publish(conn, 2, queue=other)
            channel = conn.channel()
            with Consumer(channel, [TEST_QUEUE, other], callbacks=[on_message], accept=["json"]):
                deadline = time.monotonic() + 10
                while len(got) < 2 and time.monotonic() < deadline:
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=1)
            channel.close()
    finally:
        raw.delete(QNAME + "-b")
    assert sorted(got) == [1, 2]
    assert _state(raw) == (0, 0, 0, 0)


def test_an_ack_redis_never_got_frees_the_slot_and_keeps_the_record(
    broker_url: str, raw: redis.Redis
) -> None:
    """Else a worker whose every prefetch slot failed to ack stops consuming for good."""
    with Connection(broker_url, transport=Transport) as conn:
        _publish(conn, 1)
        channel = conn.channel()
        channel.basic_qos(prefetch_count=1)
        message = channel.basic_get(QNAME)
        assert message is not None
        assert not channel.qos.can_consume()
        gone = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
        channel._shared_client = (channel.pool, gone)  # Redis is unreachable now
        with pytest.raises(redis.ConnectionError):
            message.ack()
        channel.qos._flush()
        assert channel.qos.can_consume()
        assert raw.hexists("unacked", message.delivery_tag)  # comes back after the timeout
        channel._shared_client = None
        channel.close()
