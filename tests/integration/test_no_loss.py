"""The "no data lost" principle of ARCHITECTURE.md, against real processes that are
killed and brokers that go away: every submission the visitor was told was accepted is
stored once and notified once; every submission refused can be sent again with the same key.

Each test builds a stack of its own in a temporary folder, because it kills processes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from support.brokers import PrivateRedis
from support.flow import Desk, Sent, card_values
from support.stack import Stack

from configs import load_settings
from configs.celery import QUEUE
from producers import Publisher
from vault import Submission, load_keyring

COMBOS = [("sqlite", "redis"), ("postgres", "rabbitmq")]
COMBO_IDS = [f"{d}-{b}" for d, b in COMBOS]
SUBMITTED = "secure_form.submitted"


# -- building blocks ---------------------------------------------------------------------


@contextlib.contextmanager
def fresh_stack(data_dir: Path, db: str, broker: str, **env: str) -> Iterator[Stack]:
    with Stack.running(db, broker, data_dir, api=False, worker=False, **env) as stack:
        yield stack


@contextlib.contextmanager
def own_broker(tmp_path: Path) -> Iterator[tuple[PrivateRedis, Stack]]:
    """A stack (SQLite) whose broker is a Redis of the test's own, to pause or stop."""
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    try:
        with fresh_stack(
            tmp_path / "stack", "sqlite", "redis", SECUREFORMS_BROKER_URL=broker.url
        ) as stack:
            yield broker, stack
    finally:
        broker.stop()


def report(name: str, **values: Any) -> None:
    """Timings and counts for the humans reading `pytest -s` (never asserted on)."""
    shown = ", ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    print(f"\n[no-loss] {name}: {shown}")


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> float:
    """Seconds it took for `check` to hold; fails the test after `timeout`."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def in_parallel(fn: Callable[[Any], Any], items: list[Any], threads: int = 8) -> list[Any]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(fn, items))


def visitor_values(i: int) -> dict[str, str]:
    return card_values(name=f"Visitor {i:03d}", cvv=f"{100 + i}")


def stored_part(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k != "cvv"}


def open_forms(desk: Desk, n: int) -> list[tuple[Sent, str]]:
    """n conversations, each with a form sent and opened: (sent, submit_otk)."""

    def one(_: int) -> tuple[Sent, str]:
        sent = desk.send()
        return sent, desk.open(sent)

    return in_parallel(one, list(range(n)))


def submit_all(desk: Desk, forms: list[tuple[Sent, str]], first: int = 0) -> None:
    def one(item: tuple[int, tuple[Sent, str]]) -> None:
        i, (_sent, otk) = item
        r = desk.submit(otk, visitor_values(i))
        assert r.status_code == 202, r.text
        assert r.json() == {"status": "accepted"}

    in_parallel(one, list(enumerate(forms, start=first)))


def agent_events(desk: Desk) -> list[dict[str, Any]]:
    """Every event in the agent's stream, oldest first (no waiting)."""
    events: list[dict[str, Any]] = []
    after = "0"
    with desk.client() as c:
        while True:
            r = c.get("/api/v1/agent/events", params={"after": after}, headers=desk.agent)
            assert r.status_code == 200, r.text
            page = r.json()["events"]
            if not page:
                return events
            events.extend(page)
            after = page[-1]["id"]


def submitted_events(desk: Desk) -> list[dict[str, Any]]:
    return [e["data"] for e in agent_events(desk) if e["type"] == SUBMITTED]


def wait_submitted(desk: Desk, request_id: str, timeout: float) -> dict[str, Any]:
    """Like Desk.wait_submitted, by short reads: a test that waits through an outage
    should not also depend on long-polls (redis-py 8 gives clients a 5 s socket timeout
    by default, which an XREAD BLOCK of 5 s or more runs into)."""
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        found[:] = [e for e in submitted_events(desk) if e["request_id"] == request_id]
        return bool(found)

    wait_until(f"{SUBMITTED} for {request_id}", arrived, timeout, 0.2)
    return found[0]


def vault_rows(stack: Stack) -> int:
    engine = stack.engines()["vault"]
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM vault_submissions")).scalar_one())
    finally:
        engine.dispose()


def request_status(desk: Desk, request_id: str) -> dict[str, Any]:
    with desk.client() as c:
        r = c.get(f"/api/v1/secure-forms/{request_id}", headers=desk.agent)
    assert r.status_code == 200, r.text
    return dict(r.json())


def broker_counts(stack: Stack) -> tuple[int, int]:
    """(waiting, unacked) messages of the task queue, as the broker itself counts them."""
    if stack.broker == "rabbitmq":
        vhost = stack.env["SECUREFORMS_BROKER_URL"].rsplit("/", 1)[1]
        out = subprocess.run(
            [
                *("rabbitmqctl", "-q", "--no-table-headers", "list_queues", "-p", vhost),
                *("name", "messages_ready", "messages_unacknowledged"),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == QUEUE:
                return int(parts[1]), int(parts[2])
        return 0, 0
    client = redis.Redis.from_url(stack.env["SECUREFORMS_BROKER_URL"])
    try:
        return int(client.llen(QUEUE)), int(client.hlen("unacked"))
    finally:
        client.close()


@contextlib.contextmanager
def vault_writes_blocked(stack: Stack) -> Iterator[None]:
    """Hold a write lock on the vault DB: the worker's inserts wait, messages stay unacked."""
    url = stack.env["SECUREFORMS_VAULT_DATABASE_URL"]
    if stack.db == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            # WAL, as the service's first connection leaves it (configs.database): a file
            # still in its migrations' rollback journal would refuse a worker's switch to
            # WAL at once, under this lock, and its batch would fail instead of waiting.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect() as pg:
            pg.execute(sa.text("LOCK TABLE vault_submissions IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                pg.rollback()
    finally:
        engine.dispose()


def assert_once_each(
    forms: list[tuple[Sent, str]], events: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    per_request = Counter(e["request_id"] for e in events)
    duplicates = {rid: n for rid, n in per_request.items() if n > 1}
    assert not duplicates, f"notified more than once: {duplicates}"
    expected = {sent.request_id for sent, _ in forms}
    assert set(per_request) == expected
    assert len({e["submission_id"] for e in events}) == len(events)
    return {e["request_id"]: e for e in events}


def fresh_retrieve_otk(desk: Desk, submission_id: str) -> str:
    with desk.client() as c:
        r = c.post(f"/api/v1/submissions/{submission_id}/retrieve-otk", headers=desk.agent)
    assert r.status_code == 200, r.text
    return str(r.json()["otk"])


def reveal_all(
    desk: Desk,
    forms: list[tuple[Sent, str]],
    by_request: dict[str, Any],
    *,
    fresh_keys: bool = False,
) -> None:
    """Each submission reveals its own answers once; the same key never works twice.

    `fresh_keys` asks for new retrieve keys: the one in the event lives a minute
    (otk_ttl_retrieve_s), less than a test that waits for a redelivery may take.
    """

    def one(item: tuple[int, tuple[Sent, str]]) -> None:
        i, (sent, _otk) = item
        event = by_request[sent.request_id]
        assert event["conversation_id"] == sent.conversation_id
        submission_id = event["submission_id"]
        otk = fresh_retrieve_otk(desk, submission_id) if fresh_keys else event["retrieve_otk"]
        first = desk.reveal(submission_id, otk)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["values"] == stored_part(visitor_values(i))
        assert body["off_the_record"] == {"cvv": visitor_values(i)["cvv"]}
        again = desk.reveal(submission_id, otk)
        assert again.status_code == 410
        assert again.json()["error"] == "invalid_or_expired"

    in_parallel(one, list(enumerate(forms)))


def worker_log_count(stack: Stack, word: str) -> int:
    return sum(
        p.read_text(errors="replace").count(word) for p in stack.data_dir.glob("worker*.log")
    )


# -- 1. accepted while no worker runs ----------------------------------------------------


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_accepted_while_no_worker_runs(tmp_path: Path, db: str, broker: str) -> None:
    n = 30
    with fresh_stack(tmp_path, db, broker) as stack:
        stack.start_api()
        desk = Desk.make(stack)
        forms = open_forms(desk, n)
        submit_all(desk, forms)

        # Accepted means queued, not processed: nothing is stored or notified yet.
        assert submitted_events(desk) == []
        assert vault_rows(stack) == 0
        assert request_status(desk, forms[0][0].request_id)["status"] == "opened"
        # Every one waits on the broker, some perhaps several to a message (the api's group
        # commit sends those that arrive during a publish together).
        assert 1 <= broker_counts(stack)[0] <= n

        started = time.monotonic()
        stack.start_worker()
        took = wait_until(
            "all submissions notified", lambda: len(submitted_events(desk)) >= n, timeout=90
        )
        report(
            "no worker",
            combo=f"{db}-{broker}",
            worker_start_s=time.monotonic() - started - took,
            drain_s=took,
        )
        events = submitted_events(desk)
        by_request = assert_once_each(forms, events)
        assert len(events) == n
        assert vault_rows(stack) == n
        reveal_all(desk, forms, by_request)
        assert all(request_status(desk, s.request_id)["status"] == "viewed" for s, _ in forms)


# -- 2. SIGKILL while messages wait --------------------------------------------------------


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_sigkill_with_unacked_messages_loses_and_duplicates_nothing(
    tmp_path: Path, db: str, broker: str
) -> None:
    n, warm = 60, 10
    with fresh_stack(tmp_path, db, broker, SECUREFORMS_WORKER_PREFETCH="4") as stack:
        stack.start(worker_concurrency=2)
        desk = Desk.make(stack)
        forms = open_forms(desk, n)

        # The worker is working: the first few go all the way through.
        submit_all(desk, forms[:warm])
        wait_until("first notifications", lambda: len(submitted_events(desk)) >= warm, 60)

        # Then the vault stalls (a slow disk, a lock) while the rest arrive: the worker
        # holds some messages in flight and more prefetched, none of them acknowledged.
        with vault_writes_blocked(stack):
            submit_all(desk, forms[warm:], first=warm)
            wait_until("messages unacked", lambda: broker_counts(stack)[1] >= 1, 30, 0.25)
            time.sleep(0.5)
            waiting, unacked = broker_counts(stack)
            rows_at_kill = vault_rows(stack)
            notified_at_kill = len(submitted_events(desk))
            stack.kill("worker", signal.SIGKILL)
            killed_at = time.monotonic()
        assert notified_at_kill < n
        assert unacked >= 1  # a message may hold several submissions (group commit)

        # A supervisor starts a new worker right away; the broker hands the dead
        # worker's messages to it: RabbitMQ at once, Redis once they are older than the
        # visibility timeout *and* kombu sweeps for them, which by default it does only
        # every unacked_restore_interval x unacked_restore_throttle = 10 x 10 s. Hence
        # the long deadline.
        stack.start_worker(concurrency=2, name="worker2")
        took = wait_until(
            "every submission notified after the kill",
            lambda: len(submitted_events(desk)) >= n,
            timeout=240,
            every=0.5,
        )
        wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 60, 0.5)
        time.sleep(2)  # room for a stray duplicate to show up before counting

        events = submitted_events(desk)
        report(
            "sigkill",
            combo=f"{db}-{broker}",
            waiting_at_kill=waiting,
            unacked_at_kill=unacked,
            rows_at_kill=rows_at_kill,
            notified_at_kill=notified_at_kill,
            recovered_s=time.monotonic() - killed_at,
            all_notified_after_restart_s=took,
            duplicate_notifications_suppressed=worker_log_count(stack, "already done"),
        )
        by_request = assert_once_each(forms, events)
        assert len(events) == n
        assert vault_rows(stack) == n
        reveal_all(desk, forms, by_request, fresh_keys=True)


# -- 3. broker down ------------------------------------------------------------------------


def test_broker_down_answers_503_and_the_same_key_works_later(tmp_path: Path) -> None:
    with own_broker(tmp_path) as (broker, stack):
        stack.start()
        desk = Desk.make(stack)
        ((sent, otk),) = open_forms(desk, 1)
        values = card_values(card="4000056655665556", cvv="987", name="Grace Hopper")

        broker.stop()
        started = time.monotonic()
        refused = desk.submit(otk, values)
        latency = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "unavailable"
        for value in values.values():
            assert value not in refused.text
        # Nothing half-stored: no vault row, no off-the-record copy, no notification,
        # and the request is still waiting for its answers.
        assert vault_rows(stack) == 0
        assert submitted_events(desk) == []
        assert request_status(desk, sent.request_id)["status"] == "opened"
        app_redis = stack.redis_clients()[0]
        try:
            assert list(app_redis.scan_iter("sf:offrec:*")) == []
        finally:
            app_redis.close()
        with desk.client() as c:
            assert c.get("/readyz").status_code == 503

        broker.start()
        back = time.monotonic()
        restarted_worker = False
        if not stack.procs["worker"].alive():
            stack.start_worker(name="worker2")
            restarted_worker = True
        # The api reconnects on its own; the visitor retries with the key they hold.
        retry = desk.submit(otk, values)
        retry_latency = time.monotonic() - back
        assert retry.status_code == 202, retry.text

        event = wait_submitted(desk, sent.request_id, timeout=60)
        processed = time.monotonic() - back
        report(
            "broker down",
            first_503_s=latency,
            retry_202_s=retry_latency,
            processed_after_broker_back_s=processed,
            worker_restarted=restarted_worker,
        )
        assert vault_rows(stack) == 1
        assert len(submitted_events(desk)) == 1
        shown = desk.reveal(event["submission_id"], event["retrieve_otk"])
        assert shown.status_code == 200, shown.text
        assert shown.json()["values"] == stored_part(values)
        assert shown.json()["off_the_record"] == {"cvv": "987"}
        # The key was spent by the accepted submit.
        assert desk.submit(otk, values).status_code == 410


def test_frozen_broker_answers_503_in_bounded_time_and_loses_nothing(tmp_path: Path) -> None:
    """A broker that hangs instead of refusing (SIGSTOP): the visitor still hears back.

    The publish may have reached the broker's socket before it froze, so after it thaws
    the message can be processed even though the visitor was told 503. Either way the
    submission ends up stored and notified exactly once, and the visitor's retry with the
    same key is either accepted (202) or finds it already submitted (410).
    """
    broker = PrivateRedis(tmp_path / "broker")
    broker.start()
    try:
        with fresh_stack(
            tmp_path / "stack", "sqlite", "redis", SECUREFORMS_BROKER_URL=broker.url
        ) as stack:
            stack.start()
            desk = Desk.make(stack)
            ((sent, otk),) = open_forms(desk, 1)
            values = visitor_values(7)

            broker.freeze()
            started = time.monotonic()
            refused = desk.submit(otk, values)
            latency = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "unavailable"
            for value in values.values():
                assert value not in refused.text
            assert vault_rows(stack) == 0
            assert request_status(desk, sent.request_id)["status"] == "opened"

            broker.thaw()
            time.sleep(1)
            if not stack.procs["worker"].alive():
                stack.start_worker(name="worker2")
            retry = desk.submit(otk, values)
            assert retry.status_code in (202, 410), retry.text
            wait_submitted(desk, sent.request_id, timeout=90)
            wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 30, 0.25)
            time.sleep(1)
            report(
                "broker frozen",
                first_503_s=latency,
                retry_status=retry.status_code,
                tasks_received=worker_log_count(stack, "] received"),
            )
            assert vault_rows(stack) == 1
            assert len(submitted_events(desk)) == 1
    finally:
        broker.thaw()
        broker.stop()


# -- 4. redelivery is idempotent at the task level -----------------------------------------


def submission_event(desk: Desk, sent: Sent, i: int, site_id: str) -> Submission:
    """The sealed event the api would publish for visitor i's answers to `sent`."""
    return Submission(
        submission_id=str(uuid.uuid4()),
        request_id=sent.request_id,
        site_id=site_id,
        conversation_id=sent.conversation_id,
        agent_id=desk.agent_id,
        form_id=desk.form_id,
        form_version=1,
        form_title="Payment card",
        values=stored_part(visitor_values(i)),
        off_record={"cvv": visitor_values(i)["cvv"]},
        off_record_ttl_ms=600_000,
        retention_days=30,
        submitted_at=datetime.now(UTC),
    )


def _publisher(stack: Stack) -> Publisher:
    settings = load_settings(stack.env)
    return Publisher(settings, load_keyring(settings.keyring_path, allow_generate=True))


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_the_same_event_delivered_many_times_is_stored_and_notified_once(
    tmp_path: Path, db: str, broker: str
) -> None:
    k, copies = 8, 3
    with fresh_stack(tmp_path, db, broker) as stack:
        stack.start(worker_concurrency=4)
        desk = Desk.make(stack)
        forms = open_forms(desk, k)
        events = [
            submission_event(desk, sent, i, stack.site_id) for i, (sent, _otk) in enumerate(forms)
        ]
        publisher = _publisher(stack)
        try:
            # Copies side by side, so the worker's processes race on one submission id.
            for _ in range(copies):
                for event in events:
                    publisher.publish_submission(event)
            wait_until("notified", lambda: len(submitted_events(desk)) >= k, 60)
            wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 60, 0.5)
            wait_until(
                "every copy processed",
                lambda: worker_log_count(stack, "already done") >= k * (copies - 1),
                30,
            )
            by_request = assert_once_each(forms, submitted_events(desk))
            assert vault_rows(stack) == k
            reveal_all(desk, forms, by_request)

            # A copy that arrives after the agent looked changes nothing: no new row, no
            # new event, the request stays viewed, the CVV does not come back.
            for event in events:
                publisher.publish_submission(event)
            wait_until(
                "late copies processed",
                lambda: worker_log_count(stack, "already done") >= k * copies,
                30,
            )
        finally:
            publisher.close()
        assert len(submitted_events(desk)) == k
        assert vault_rows(stack) == k
        sent, _ = forms[0]
        submission_id = by_request[sent.request_id]["submission_id"]
        assert request_status(desk, sent.request_id) == {
            "request_id": sent.request_id,
            "status": "viewed",
            "submission_id": submission_id,
        }
        with desk.client() as c:
            fresh = c.post(f"/api/v1/submissions/{submission_id}/retrieve-otk", headers=desk.agent)
        assert fresh.status_code == 200, fresh.text
        again = desk.reveal(submission_id, fresh.json()["otk"])
        assert again.status_code == 200, again.text
        assert again.json()["values"] == stored_part(visitor_values(0))
        assert again.json()["off_the_record"] == {}
        assert again.json()["off_record_status"] == "already_viewed"


def test_a_byte_identical_redelivered_message_changes_nothing(tmp_path: Path) -> None:
    """The Redis broker's own redelivery, replayed: the very bytes of the queued message."""
    with fresh_stack(tmp_path, "sqlite", "redis") as stack:
        stack.start_api()
        desk = Desk.make(stack)
        ((sent, otk),) = open_forms(desk, 1)
        assert desk.submit(otk, visitor_values(0)).status_code == 202
        broker = redis.Redis.from_url(stack.env["SECUREFORMS_BROKER_URL"])
        try:
            queued = broker.lrange(QUEUE, 0, -1)
            assert len(queued) == 1
            message = json.loads(queued[0])
            raw = queued[0].decode()
            # Whole values: a short piece like "4242" turns up inside random UUIDs.
            assert not any(v in raw for v in visitor_values(0).values() if len(v) > 4)

            stack.start_worker()
            event = wait_submitted(desk, sent.request_id, timeout=60)
            shown = desk.reveal(event["submission_id"], event["retrieve_otk"])
            assert shown.status_code == 200, shown.text
            assert shown.json()["off_the_record"] == {"cvv": "100"}

            assert message["headers"]["id"] == event["submission_id"]
            broker.lpush(QUEUE, queued[0])
            wait_until("replay processed", lambda: worker_log_count(stack, "already done") >= 1, 30)
            wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 30, 0.25)
        finally:
            broker.close()
        assert len(submitted_events(desk)) == 1
        assert vault_rows(stack) == 1
        assert request_status(desk, sent.request_id)["status"] == "viewed"
        with desk.client() as c:
            fresh = c.post(
                f"/api/v1/submissions/{event['submission_id']}/retrieve-otk", headers=desk.agent
            )
        again = desk.reveal(event["submission_id"], fresh.json()["otk"])
        assert again.status_code == 200, again.text
        assert again.json()["off_the_record"] == {}
        assert again.json()["off_record_status"] == "already_viewed"
