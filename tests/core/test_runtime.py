"""Runtime.close() lets go of every connection the runtime opened, seen from the Redis
server's side (CLIENT LIST), not from the client's own bookkeeping."""

from __future__ import annotations

import time
from pathlib import Path

from redis import Redis
from support import redis_dbs

from configs import load_settings
from core.runtime import Runtime


def _connected(observer: Redis, client_id: int) -> bool:
    listed: list[object] = observer.execute_command("CLIENT", "LIST", "ID", client_id)
    return bool(listed)


def _gone(observer: Redis, client_id: int) -> bool:
    """The server drops a closed client on its next event loop turn; wait for it, briefly."""
    deadline = time.monotonic() + 5
    while _connected(observer, client_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_close_closes_the_off_record_redis_of_its_own(tmp_path: Path, redis_db: int) -> None:
    settings = load_settings(
        {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(tmp_path),
            "SECUREFORMS_REDIS_URL": redis_dbs.url(redis_db),
            # Another URL for the same server: the runtime makes a second client for it.
            "SECUREFORMS_OFF_RECORD_REDIS_URL": redis_dbs.url(redis_db).replace(
                "127.0.0.1", "localhost"
            ),
        }
    )
    rt = Runtime.from_settings(settings)
    assert rt.off_record_redis is not rt.redis
    ids = [rt.redis.client_id(), rt.off_record_redis.client_id()]
    with Redis.from_url(settings.redis_url) as observer:
        assert all(_connected(observer, client_id) for client_id in ids)

        rt.close()

        assert _gone(observer, ids[0]), "the main Redis client is still connected"
        assert _gone(observer, ids[1]), "the off-record Redis client is still connected"


def test_close_with_one_redis_for_both(tmp_path: Path, redis_db: int) -> None:
    settings = load_settings(
        {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(tmp_path),
            "SECUREFORMS_REDIS_URL": redis_dbs.url(redis_db),
        }
    )
    rt = Runtime.from_settings(settings)
    assert rt.off_record_redis is rt.redis
    client_id = rt.redis.client_id()
    with Redis.from_url(settings.redis_url) as observer:
        rt.close()

        assert _gone(observer, client_id)
