"""kombu's Redis transport, minus a Redis client object built for every command it sends.

kombu's Redis channel wraps each publish and each ack in a brand-new `redis.Redis`
(over the channel's shared connection pool). Building one costs more CPU than the LPUSH
it then sends: on a 2-core machine that is a measurable share of every submission in the
api and of every task in the worker. This channel keeps one client per connection pool
instead; commands, connections and acknowledgements are exactly kombu's.

Selected by `configs.celery` (as `broker_transport`) for redis:// broker URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _shared_client: tuple[Any, Any] | None = None  # (the pool it was made on, the client)

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


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
