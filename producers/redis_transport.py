"""kombu's Redis transport, with the pop and the unacked record made one atomic step.

Why this is written by hand: kombu's Redis channel takes a message with `BRPOP` (or
`RPOP` in `basic_get`) and only afterwards, in a separate pipeline sent by
`QoS.append`, writes its "unacked" record (`HSET unacked` + `ZADD unacked_index`) that
`restore_visible` later redelivers from. A Redis that dies between the two (the AOF holds
the pop but not the record), or a worker that dies between them, loses the message for
good: Celery #3541's family. No released kombu, Celery or redis-py closes that window,
and no other library offers a Redis ack-emulation that Celery can use, so the two steps
are joined here:

1. The consumer waits with `BLMOVE queue -> unacked_inflight` instead of `BRPOP`: one
   atomic command, so the message is always in the queue or in the in-flight list.
2. One Lua script (`CLAIM`, EVALSHA) then removes that message from the in-flight list
   and writes kombu's own unacked record, atomically. From there on acks, rejects,
   requeues and the visibility-timeout restore are kombu's code, unchanged.
3. A message left in the in-flight list (Redis or the worker died between 1 and 2) is
   adopted by `restore_visible`: the same script gives it an unacked record stamped now,
   so it comes back after the visibility timeout like any other unacknowledged message.
   A consumer that claims a message the sweep adopted first still gets it (the record
   exists); one whose message was already adopted *and* restored skips it.

An ack or reject that cannot reach Redis still frees the worker's prefetch slot (kombu
frees it only on success, so a worker whose every slot failed stalled silently); the
record stays in Redis and the message comes back after the visibility timeout.

`basic_get` uses `LMOVE` + the same script. Consumers with no_ack get no record (as in
kombu): their message is only taken out of the in-flight list. Messages fed to
`BLMOVE` must sit in one list, so a channel that consumes several lists (several queues,
or priority steps) waits on each in turn with a share of `brpop_timeout`;
`configs.celery` sets `priority_steps` to [0] so the worker's one queue is one list.

Also, kombu's channel wraps each publish and each ack in a brand-new `redis.Redis` (over
the channel's shared connection pool), which costs more CPU than the LPUSH it sends: this
channel keeps one client per connection pool instead.

`tests/producers/test_redis_transport.py` pins the source of every kombu function this
module overrides or copies the behaviour of; kombu is pinned to the tested minor version.
Selected by `configs.celery` (as `broker_transport`) for redis:// broker URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import time
from typing import Any

from kombu.transport import redis as _kombu_redis
from kombu.transport import virtual as _kombu_virtual
from kombu.utils import json as _kombu_json

# kombu is typed in part only; what this module does with it is checked by its tests.
kombu_redis: Any = _kombu_redis
VirtualQoS: Any = _kombu_virtual.QoS
kombu_json: Any = _kombu_json

# KEYS: in-flight list, unacked hash, unacked index. ARGV: the message as it sits in the
# list, its delivery tag, the unacked record, the time (score), and "1" to record it
# (acknowledged consumers) or "0" (no_ack consumers: only take it out of the list).
# Returns 1 when the caller now owns the message, 0 when it must not deliver it.
CLAIM = """
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 1 then
    if ARGV[5] == '1' then
        redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
        redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
    end
    return 1
end
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
    return 1
end
return 0
"""

_MIN_WAIT_S = 0.05  # the shortest BLMOVE wait, per list, when a channel rotates lists


class QoS(kombu_redis.QoS):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorded: set[str] = set()  # delivery tags CLAIM already wrote a record for

    def append(self, message: Any, delivery_tag: str) -> None:
        if delivery_tag in self._recorded:
            self._recorded.discard(delivery_tag)
            VirtualQoS.append(self, message, delivery_tag)  # in memory only
            return
        super().append(message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        try:
            super().ack(delivery_tag)
        except self.channel.connection_errors:
            # kombu frees the prefetch slot only after Redis took the ack. With Redis
            # gone, a worker whose every slot failed so stops asking for messages (the
            # paused BRPOP is never read, so the lost connection is never noticed): a
            # silent stall. Free the slot; the unacked record stays in Redis and the
            # message comes back after the visibility timeout, as for any lost ack.
            VirtualQoS.ack(self, delivery_tag)
            raise

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue)
        except self.channel.connection_errors:
            VirtualQoS.ack(self, delivery_tag)  # as in ack: the record stays in Redis
            raise

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        # kombu's throttle: only every interval-th call sweeps; adopt on the same calls.
        if not self._vrestore_count % (interval or 1):
            self.channel.adopt_inflight()
        super().restore_visible(start, num, interval)


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    QoS = QoS
    inflight_key = "unacked_inflight"
    from_transport_options = (*kombu_redis.Channel.from_transport_options, "inflight_key")

    _shared_client: tuple[Any, Any] | None = None  # (the pool it was made on, the client)
    _claim_script: Any = None
    _blmove_key: str | None = None  # the list the pending BLMOVE waits on
    _rotation = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.global_keyprefix:
            raise ValueError("producers.redis_transport does not support global_keyprefix")
        self._no_ack_queues: set[str] = set()

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared[0] is not pool:
            # A pool kombu replaced (after a connection error) gets a client of its own.
            shared = self._shared_client = (pool, self._create_client())  # type: ignore[no-untyped-call]
        yield shared[1]

    # -- taking messages ---------------------------------------------------------------
    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        (self._no_ack_queues.add if no_ack else self._no_ack_queues.discard)(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def _brpop_start(self, timeout: float | None = None) -> None:
        if timeout is None:
            timeout = self.brpop_timeout
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        keys = [self._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]
        wait = timeout or 0
        if len(keys) > 1:
            # BLMOVE watches one list: take them in turn, each with a share of the wait.
            self._rotation = (self._rotation + 1) % len(keys)
            wait = max(_MIN_WAIT_S, wait / len(keys))
            keys = [keys[self._rotation]]
        self._blmove_key = keys[0]
        self._in_poll = self.client.connection
        self._brpop_sent_at = kombu_redis.monotonic()
        self.client.connection.send_command(
            "BLMOVE", keys[0], self.inflight_key, "RIGHT", "LEFT", wait
        )

    def _brpop_read(self, **options: Any) -> bool:
        try:
            try:
                item = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                # as kombu: disconnect so the next iteration reconnects
                self.client.connection.disconnect()
                raise
            key = self._blmove_key
            if item is None or key is None:
                raise kombu_redis.Empty()
            queue = key.rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            payload = self._claim(item, queue)
            if payload is None:
                raise kombu_redis.Empty()
            self.connection._deliver(payload, queue)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                item = client.lmove(self._q_for_pri(queue, pri), self.inflight_key, "RIGHT", "LEFT")
                if item is None:
                    continue
                self._maybe_update_queues_expire(client, queue)
                payload = self._claim(item, queue, no_ack=no_ack)
                if payload is None:
                    continue
                message = self.Message(payload, channel=self)
                if not no_ack:
                    self.qos.append(message, message.delivery_tag)
                return message
            self._maybe_update_queues_expire(client, queue)
        return None

    def _claim(self, item: bytes, queue: str, no_ack: bool | None = None) -> Any:
        """Move `item` from the in-flight list to kombu's unacked record, atomically.

        The decoded message when this consumer owns it now, None when it must not be
        delivered (restored to the queue by a sweep in the meantime)."""
        if no_ack is None:
            no_ack = queue in self._no_ack_queues
        payload = kombu_json.loads(item)
        tag = payload["properties"]["delivery_tag"]
        if not self._run_claim(item, payload, record=not no_ack):
            return None
        if not no_ack:
            self.qos._recorded.add(tag)
        return payload

    def _run_claim(self, item: bytes, payload: Any, *, record: bool) -> bool:
        info = payload["properties"]["delivery_info"]
        unacked = kombu_json.dumps([payload, info["exchange"], info["routing_key"]])
        with self.conn_or_acquire() as client:
            if self._claim_script is None:
                self._claim_script = client.register_script(CLAIM)
            keys = [self.inflight_key, self.unacked_key, self.unacked_index_key]
            args = [item, payload["properties"]["delivery_tag"], unacked, time(), int(record)]
            return bool(self._claim_script(keys, args, client=client))

    def adopt_inflight(self) -> int:
        """Give each message left in the in-flight list an unacked record stamped now.

        Left there when Redis or a worker died between BLMOVE and CLAIM; from the record
        kombu's restore_visible brings it back after the visibility timeout. A consumer
        in the middle of claiming the same message keeps it (CLAIM sees the record)."""
        adopted = 0
        with self.conn_or_acquire() as client:
            for item in client.lrange(self.inflight_key, 0, -1):
                try:
                    payload = kombu_json.loads(item)
                    payload["properties"]["delivery_tag"]  # a message at all?
                except (ValueError, TypeError, KeyError):
                    kombu_redis.crit("Dropping a malformed in-flight message: %r", item[:200])
                    client.lrem(self.inflight_key, 1, item)
                    continue
                adopted += self._run_claim(item, payload, record=True)
        return adopted


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
