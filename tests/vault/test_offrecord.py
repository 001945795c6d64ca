"""The off-the-record store against a real Redis: take once, tombstones, TTL, no plaintext."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from vault.errors import VaultError
from vault.keyring import Keyring
from vault.offrecord import ALREADY_VIEWED, AVAILABLE, EXPIRED, OffRecordStore

SITE = "site-a"
SUB = "9a1b2c3d-0000-4000-8000-000000000001"
VALUES = {"cvv": "7391", "security_answer": "Zebediah Fotheringham"}
TTL_MS = 60_000


@pytest.fixture
def store(redis_client: Redis, keyring: Keyring) -> OffRecordStore:
    return OffRecordStore(redis_client, keyring)


def test_put_then_take_once(store: OffRecordStore) -> None:
    assert store.put(SITE, SUB, VALUES, TTL_MS) is True
    assert 0 < store.ttl_ms(SITE, SUB) <= TTL_MS
    assert store.take(SITE, SUB) == (AVAILABLE, VALUES)
    assert store.take(SITE, SUB) == (ALREADY_VIEWED, {})
    assert store.take(SITE, SUB) == (ALREADY_VIEWED, {})


def test_unknown_is_expired(store: OffRecordStore) -> None:
    assert store.take(SITE, "never-stored") == (EXPIRED, {})


def test_ttl_expiry_gives_expired(store: OffRecordStore) -> None:
    assert store.put(SITE, SUB, VALUES, 200)
    time.sleep(0.4)
    assert store.take(SITE, SUB) == (EXPIRED, {})
    assert store.take(SITE, SUB) == (EXPIRED, {})  # expiry leaves no tombstone


def test_sites_and_submissions_are_separate(store: OffRecordStore) -> None:
    store.put(SITE, SUB, VALUES, TTL_MS)
    assert store.take("site-b", SUB) == (EXPIRED, {})
    assert store.take(SITE, SUB + "x") == (EXPIRED, {})
    assert store.take(SITE, SUB) == (AVAILABLE, VALUES)


def test_values_in_redis_are_not_plaintext(store: OffRecordStore, redis_client: Redis) -> None:
    store.put(SITE, SUB, VALUES, TTL_MS)
    keys = list(redis_client.scan_iter(count=1000))
    assert len(keys) == 1
    raw = redis_client.get(keys[0])
    assert raw is not None
    decoded = b"".join(base64.b64decode(env) for env in json.loads(raw).values())
    for value in VALUES.values():
        for haystack in (raw, decoded, keys[0]):
            assert value.encode() not in haystack
            assert value.lower().encode() not in haystack.lower()

    store.take(SITE, SUB)
    for key in redis_client.scan_iter(count=1000):
        leftover = redis_client.get(key)
        assert leftover == b"1"  # the tombstone holds no data
        assert 0 < redis_client.pttl(key) <= 24 * 3600 * 1000
        for value in VALUES.values():
            assert value.encode() not in key


def test_put_after_take_does_not_revive(store: OffRecordStore) -> None:
    assert store.put(SITE, SUB, VALUES, TTL_MS)
    assert store.take(SITE, SUB)[0] == AVAILABLE
    assert store.put(SITE, SUB, VALUES, TTL_MS) is False  # a redelivered message
    assert store.ttl_ms(SITE, SUB) < 0
    assert store.take(SITE, SUB) == (ALREADY_VIEWED, {})


def test_put_is_nx(store: OffRecordStore) -> None:
    assert store.put(SITE, SUB, VALUES, TTL_MS) is True
    assert store.put(SITE, SUB, {"cvv": "0000"}, TTL_MS * 10) is False
    assert store.ttl_ms(SITE, SUB) <= TTL_MS  # the TTL was not refreshed either
    assert store.take(SITE, SUB) == (AVAILABLE, VALUES)


def test_put_of_nothing_stores_nothing(store: OffRecordStore, redis_client: Redis) -> None:
    assert store.put(SITE, SUB, {}, TTL_MS) is False
    assert redis_client.dbsize() == 0
    assert store.take(SITE, SUB) == (EXPIRED, {})


def test_delete(store: OffRecordStore) -> None:
    store.put(SITE, SUB, VALUES, TTL_MS)
    store.delete(SITE, SUB)
    assert store.take(SITE, SUB) == (EXPIRED, {})


def test_a_blob_moved_to_another_site_does_not_open(
    store: OffRecordStore, redis_client: Redis
) -> None:
    store.put(SITE, SUB, VALUES, TTL_MS)
    blob = redis_client.get(f"sf:offrec:{SITE}:{SUB}")
    assert blob is not None
    redis_client.set(f"sf:offrec:site-b:{SUB}", blob, px=TTL_MS)
    with pytest.raises(VaultError):
        store.take("site-b", SUB)
    assert store.take(SITE, SUB) == (AVAILABLE, VALUES)


def test_another_keyring_cannot_open(redis_client: Redis, keyring: Keyring) -> None:
    OffRecordStore(redis_client, keyring).put(SITE, SUB, VALUES, TTL_MS)
    with pytest.raises(VaultError):
        OffRecordStore(redis_client, Keyring.generate()).take(SITE, SUB)


@pytest.fixture
def text_client(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def test_a_decoding_client_works_too(
    redis_client: Redis, text_client: Redis, keyring: Keyring
) -> None:
    store = OffRecordStore(text_client, keyring)
    assert store.put(SITE, SUB, VALUES, TTL_MS)
    assert store.take(SITE, SUB) == (AVAILABLE, VALUES)
    assert store.take(SITE, SUB) == (ALREADY_VIEWED, {})


def test_exactly_one_of_twenty_racing_takers_gets_the_value(
    store: OffRecordStore, redis_url: str, keyring: Keyring
) -> None:
    for round_ in range(10):
        submission = f"{SUB}-{round_}"
        store.put(SITE, submission, VALUES, TTL_MS)
        barrier = threading.Barrier(20, timeout=30)
        results: list[object] = [None] * 20

        def take(
            index: int,
            submission: str = submission,
            barrier: threading.Barrier = barrier,
            results: list[object] = results,
        ) -> None:
            client = Redis.from_url(redis_url)
            try:
                mine = OffRecordStore(client, keyring)
                client.ping()
                barrier.wait()
                results[index] = mine.take(SITE, submission)
            except Exception as exc:  # surfaced through `results`
                results[index] = exc
            finally:
                client.close()

        threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results.count((AVAILABLE, VALUES)) == 1, results
        assert results.count((ALREADY_VIEWED, {})) == 19, results


def _race_redelivery_against_take(redis_client: Redis, keyring: Keyring, submission: str) -> None:
    worker = OffRecordStore(redis_client, keyring)
    agent = OffRecordStore(redis_client, keyring)
    assert worker.put(SITE, submission, VALUES, TTL_MS)  # first delivery
    barrier = threading.Barrier(2)
    taken: list[tuple[str, dict[str, str]]] = []

    def redeliver() -> None:
        barrier.wait()
        worker.put(SITE, submission, VALUES, TTL_MS)

    def view() -> None:
        barrier.wait()
        taken.append(agent.take(SITE, submission))

    threads = [threading.Thread(target=redeliver), threading.Thread(target=view)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken == [(AVAILABLE, VALUES)]
    assert agent.take(SITE, submission) == (ALREADY_VIEWED, {})


def test_a_redelivery_racing_the_agents_take_never_revives(
    redis_client: Redis, keyring: Keyring
) -> None:
    """put() checks the tombstone and writes in one script, so no interleaving revives."""
    for round_ in range(30):
        _race_redelivery_against_take(redis_client, keyring, f"{SUB}-{round_}")


def test_peek_leaves_the_values_for_a_take(store: OffRecordStore) -> None:
    assert store.peek(SITE, SUB) == {}
    store.put(SITE, SUB, VALUES, TTL_MS)
    assert store.peek(SITE, SUB) == VALUES
    assert store.peek("site-b", SUB) == {}
    assert store.take(SITE, SUB) == (AVAILABLE, VALUES)
    assert store.peek(SITE, SUB) == {}
