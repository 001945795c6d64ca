"""Redis databases for tests: each pytest process has a redis-server of its own.

The machine's Redis on 6379 runs with 16 databases (redis-server's default, and how this
kind of machine starts it); `databases` cannot change while it runs. Two test processes
(scripts/test.sh runs the suite under pytest-xdist), each holding the databases of several
stacks at once, ran out of them and waited for each other until their timeouts. So every
pytest process starts its own server on a free port, with 64 databases and no persistence,
on first use, and stops it when it exits: no other run shares or flushes its databases,
and nothing a test wrote is left in the machine's Redis.
"""

from __future__ import annotations

import atexit
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

DATABASES = 64
WAIT_S = 300
_lock = threading.Lock()
_held: set[int] = set()
_server: list[object] = []  # the PrivateRedis, once started


def port() -> int:
    """The port of this process's test Redis, started on the first call."""
    with _lock:
        if not _server:
            # Imported here: support.brokers imports support.stack, which imports this.
            from support.brokers import PrivateRedis

            class _SuiteRedis(PrivateRedis):
                persistence = (
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--databases",
                    str(DATABASES),
                    # As docker/compose.yaml runs the app Redis (docs/operations.md).
                    "--stream-node-max-bytes",
                    "1024",
                )

            server = _SuiteRedis(Path(tempfile.mkdtemp(prefix="secureforms-test-redis-")))
            server.start()
            atexit.register(server.stop)
            _server.append(server)
        return int(_server[0].port)  # type: ignore[attr-defined]


def acquire() -> int:
    """The number of a Redis database this process now holds alone (emptied); waits for one."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with _lock:
            free = next((db for db in range(DATABASES) if db not in _held), None)
            if free is not None:
                _held.add(free)
        if free is not None:
            with client(free) as r:
                r.flushdb()  # a database given back may still hold the last holder's keys
            return free
        time.sleep(0.5)
    raise RuntimeError(f"no free Redis database for tests within {WAIT_S} s")


def release(db: int | None) -> None:
    if db is not None:
        with _lock:
            _held.discard(db)


def url(db: int) -> str:
    return f"redis://127.0.0.1:{port()}/{db}"


def client(db: int, **options: float) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port(), db=db, **options)  # type: ignore[arg-type]


@contextmanager
def locked_db() -> Iterator[int]:
    db = acquire()
    try:
        yield db
    finally:
        release(db)
