"""Redis databases for tests, one holder at a time across every pytest run on the machine.

0-3 belong to development and the test.toml defaults; tests take 4..15. A lock file per
database (flock, released when its file closes, so also when a run dies) keeps two runs, or
two suites of one run, from sharing and flushing one database.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

DBS = range(4, 16)
WAIT_S = 300
_held: dict[int, IO[str]] = {}


def lock_path(db: int) -> str:
    return f"/tmp/secureforms-test-redis-db-{db}.lock"


def acquire() -> int:
    """The number of a Redis database this process now holds alone; waits for one."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for db in DBS:
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
