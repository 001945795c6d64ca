"""Redis databases for tests, one holder at a time across every pytest run on the machine.

0-3 belong to development and the test.toml defaults; tests take 4 up to the server's own
`databases` setting (16 by default; scripts/bootstrap.sh starts it with 64). A lock file per
database (flock, released when its file closes, so also when a run dies) keeps two runs, or
two suites of one run, from sharing and flushing one database.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

FIRST_DB = 4
WAIT_S = 300
_held: dict[int, IO[str]] = {}
_dbs: range | None = None


def _pool() -> range:
    """Databases 4.. up to what the running server has, asked once per process."""
    global _dbs
    if _dbs is None:
        import redis

        with redis.Redis(host="127.0.0.1", port=6379) as client:
            count = int(client.config_get("databases")["databases"])
        _dbs = range(FIRST_DB, count)
    return _dbs


def lock_path(db: int) -> str:
    return f"/tmp/secureforms-test-redis-db-{db}.lock"


def acquire() -> int:
    """The number of a Redis database this process now holds alone; waits for one."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for db in _pool():
            if db in _held:
                continue
            fh = open(lock_path(db), "w")  # noqa: SIM115 - held open until release()
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            _held[db] = fh
            return db
        time.sleep(0.5)
    raise RuntimeError(f"no free Redis database for tests within {WAIT_S} s")


def release(db: int | None) -> None:
    fh = _held.pop(db, None) if db is not None else None
    if fh is not None:
        fh.close()


def url(db: int) -> str:
    return f"redis://127.0.0.1:6379/{db}"


@contextmanager
def locked_db() -> Iterator[int]:
    db = acquire()
    try:
        yield db
    finally:
        release(db)
