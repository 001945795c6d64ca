"""The batching worker (workers.batches, workers.tasks.tokenize_submissions) against real
processes: a batch is held in the middle of its vault transaction, then something breaks.
In each case every accepted submission is stored once and notified once, and nothing else.

The hold is a write lock on the vault DB (test_no_loss.vault_writes_blocked): the worker
has taken the messages (the broker counts them unacked), opened its transaction and waits.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from integration.test_no_loss import (
    COMBO_IDS,
    COMBOS,
    _publisher,
    assert_once_each,
    broker_counts,
    fresh_stack,
    open_forms,
    own_broker,
    report,
    reveal_all,
    submission_event,
    submit_all,
    submitted_events,
    vault_rows,
    vault_writes_blocked,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families
from support.brokers import PrivateRedis
from support.flow import Desk, Sent
from support.private_services import PrivatePostgres
from support.stack import Proc, Stack, free_port

from configs.celery import QUEUE, TOKENIZE_GROUP_TASK

N = 40  # one batch (worker_batch_size 50): the worker holds them all at once


def pool_children(worker: Proc) -> list[int]:
    """The worker's pool processes (prefork), the ones that run the batches."""
    path = Path(f"/proc/{worker.popen.pid}/task/{worker.popen.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def insert_waits_on_lock(stack: Stack) -> bool:
    """PostgreSQL: the worker's insert into the vault is waiting for the test's lock."""
    engine = stack.engines()["vault"]
    try:
        with engine.connect() as conn:
            waiting = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO vault_submissions%'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(waiting) > 0


def held_mid_batch(stack: Stack, n: int) -> None:
    """Until the worker holds all n unacked and its batch waits inside the vault."""

    # Messages, not submissions: the api may have sent several in one (group commit).
    def all_taken() -> bool:
        waiting, unacked = broker_counts(stack)
        return waiting == 0 and 1 <= unacked <= n

    wait_until("all taken by the worker", all_taken, 60, 0.25)
    if stack.db == "postgres":
        wait_until("the batch's insert waits", lambda: insert_waits_on_lock(stack), 30, 0.1)
    else:
        time.sleep(1.0)  # SQLite shows no waiter: the batch is flushed within milliseconds
    # A read needs no write lock (SQLite in WAL mode; PostgreSQL's EXCLUSIVE lets reads by).
    assert vault_rows(stack) == 0


def all_stored_once(stack: Stack, desk: Desk, forms: list[tuple[Sent, str]]) -> None:
    wait_until("every submission notified", lambda: len(submitted_events(desk)) >= len(forms), 120)
    wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 60, 0.5)
    time.sleep(1.5)  # room for a stray duplicate to show up before counting
    by_request = assert_once_each(forms, submitted_events(desk))
    assert vault_rows(stack) == len(forms)
    reveal_all(desk, forms, by_request, fresh_keys=True)


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_a_pool_process_killed_mid_batch_loses_and_repeats_nothing(
    tmp_path: Path, db: str, broker: str
) -> None:
    with fresh_stack(tmp_path, db, broker) as stack:
        worker = stack.start(worker_concurrency=1)
        desk = Desk.make(stack)
        forms = open_forms(desk, N)
        with vault_writes_blocked(stack):
            submit_all(desk, forms)
            held_mid_batch(stack, N)
            [child] = pool_children(worker)
            os.kill(child, signal.SIGKILL)
            wait_until("a new pool process", lambda: pool_children(worker) not in ([], [child]), 30)
        all_stored_once(stack, desk, forms)
        assert worker.alive()
        report("pool process killed mid-batch", combo=f"{db}-{broker}", n=N)


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_sigterm_during_a_batch_finishes_it_or_gives_it_back(
    tmp_path: Path, db: str, broker: str
) -> None:
    """A warm shutdown (SIGTERM to the worker, as Docker and systemd send it) while a batch
    waits in the vault: the batch ends, the worker exits, a new one takes what is left."""
    with fresh_stack(tmp_path, db, broker) as stack:
        worker = stack.start(worker_concurrency=1)
        desk = Desk.make(stack)
        forms = open_forms(desk, N)
        with vault_writes_blocked(stack):
            submit_all(desk, forms)
            held_mid_batch(stack, N)
            os.kill(worker.popen.pid, signal.SIGTERM)
            time.sleep(0.5)
        worker.popen.wait(60)
        rows_at_exit = vault_rows(stack)
        stack.start_worker(concurrency=1, name="worker2")
        all_stored_once(stack, desk, forms)
        report("sigterm mid-batch", combo=f"{db}-{broker}", stored_before_exit=rows_at_exit)


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_one_poisoned_event_among_fifty_holds_up_none_of_the_others(
    tmp_path: Path, db: str, broker: str
) -> None:
    """Fifty events wait for a worker; one of them opens but can never be stored (no site:
    the vault refuses it). They arrive as one batch, which fails; one at a time, the 49
    land and the poisoned one takes the one-submission task's error path."""
    with fresh_stack(tmp_path, db, broker) as stack:
        stack.start_api()
        desk = Desk.make(stack)
        forms = open_forms(desk, 50)
        bad = 17
        events = [
            submission_event(desk, sent, i, "" if i == bad else stack.site_id)
            for i, (sent, _otk) in enumerate(forms)
        ]
        publisher = _publisher(stack)
        try:
            for event in events:
                publisher.publish_submission(event)
        finally:
            publisher.close()
        stack.start_worker(concurrency=1)
        good = forms[:bad] + forms[bad + 1 :]
        wait_until("the good ones notified", lambda: len(submitted_events(desk)) >= 49, 60)
        wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 60, 0.5)
        wait_until("the poisoned one failed", lambda: "TokenizeFailed" in stack.logs(), 30)
        log = stack.logs()
        assert "storing one at a time" in log  # they came as one batch, and it failed
        assert log.count("handed to its retries") == 1
        by_request = assert_once_each(good, submitted_events(desk))
        assert vault_rows(stack) == 49
        assert set(by_request) == {sent.request_id for sent, _ in good}
        bad_sent, _ = forms[bad]
        with desk.client() as c:
            r = c.get(f"/api/v1/secure-forms/{bad_sent.request_id}", headers=desk.agent)
        assert r.status_code == 200 and r.json()["status"] == "opened", r.text


def test_a_postgresql_restart_during_a_batch_loses_nothing(tmp_path: Path) -> None:
    """PostgreSQL (a server of the test's own) stops while a batch waits inside the vault:
    the batch fails as a whole, each submission goes to its retries, and they land once it
    is back."""
    pg = PrivatePostgres()
    pg.start()
    try:
        with fresh_stack(
            tmp_path,
            "sqlite",
            "redis",
            SECUREFORMS_APP_DATABASE_URL=pg.create_database("sf_app"),
            SECUREFORMS_VAULT_DATABASE_URL=pg.create_database("sf_vault"),
        ) as stack:
            stack.db = "postgres"  # the vault and app DBs are the private server's
            worker = stack.start(worker_concurrency=1)
            desk = Desk.make(stack)
            forms = open_forms(desk, N)
            # The lock by hand: the stop ends its session, there is nothing to roll back.
            locker = sa.create_engine(stack.env["SECUREFORMS_VAULT_DATABASE_URL"])
            try:
                lock = locker.connect()
                lock.execute(sa.text("LOCK TABLE vault_submissions IN EXCLUSIVE MODE"))
                submit_all(desk, forms)
                held_mid_batch(stack, N)
                pg.stop()  # -m fast: every session ends, the lock and the batch with them
            finally:
                locker.dispose()
            time.sleep(2)
            pg.start()
            all_stored_once(stack, desk, forms)
            assert worker.alive()
            log = stack.logs()
            assert "batch not stored; each to its retries" in log
            report("postgresql restart mid-batch", retried=log.count("tokenize_one["))
    finally:
        pg.close()


def _queued(broker: PrivateRedis) -> list[tuple[str, int]]:
    """(task name, submissions in it) of each message waiting on the broker."""
    found = []
    for raw in broker.client().lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        name = message["headers"]["task"]
        found.append((name, len(args[0]) if name == TOKENIZE_GROUP_TASK else 1))
    return found


def test_submits_arriving_during_a_publish_share_a_message_and_each_lands_once(
    tmp_path: Path,
) -> None:
    """The api's group commit (producers.group_commit), against a real broker held for a
    second (CLIENT PAUSE WRITE, on a Redis of the test's own): the first submit's publish
    waits, the submits behind it wait in the api, and once the broker answers they go out
    as one message. Every visitor gets a 202; the worker stores and notifies each once."""
    with own_broker(tmp_path) as (broker, stack):
        stack.start_api()
        desk = Desk.make(stack)
        forms = open_forms(desk, 24)
        broker.client().client_pause(1000, all=False)  # writes wait, reads go on
        submit_all(desk, forms)
        queued = _queued(broker)
        assert sum(n for _, n in queued) == 24  # every accepted one is on the broker
        groups = [n for name, n in queued if name == TOKENIZE_GROUP_TASK]
        assert groups and max(groups) > 1, queued
        assert len(queued) < 24
        stack.start_worker(concurrency=1)
        all_stored_once(stack, desk, forms)
        report("group commit", messages=len(queued), groups=groups)


def test_after_the_broker_comes_back_a_small_batch_is_not_left_waiting(
    tmp_path: Path,
) -> None:
    """The worker's batches fill to worker_batch_size or are flushed by a timer. After the
    consumer reconnects to a broker that went away, fewer submissions than a batch must
    still go through: the timer has to start again with the new connection."""
    with own_broker(tmp_path) as (broker, stack):
        stack.start(worker_concurrency=1)
        desk = Desk.make(stack)
        forms = open_forms(desk, 6)
        submit_all(desk, forms[:3])
        wait_until("the first three notified", lambda: len(submitted_events(desk)) >= 3, 30)
        broker.stop()
        time.sleep(3)  # the worker notices and keeps trying to reconnect
        broker.start()
        wait_until("the worker back on the broker", lambda: _consuming(broker), 60, 0.5)
        submit_all(desk, forms[3:], first=3)
        wait_until("the next three notified", lambda: len(submitted_events(desk)) >= 6, 30)
        all_stored_once(stack, desk, forms)


def _consuming(broker: PrivateRedis) -> bool:
    """A client of the worker is waiting on the queue again (BLMOVE/BRPOP)."""
    clients = broker.client().client_list()
    return any(c.get("cmd") in ("blmove", "brpop", "brpoplpush") for c in clients)


METRICS_TOKEN = "batch-metrics-token-" + "b" * 24


def batch_sizes(port: int) -> tuple[float, float]:
    """The worker's batch-size histogram: (batches, submissions in them)."""
    text = httpx.get(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=10,
    ).text
    found = {"_count": 0.0, "_sum": 0.0}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            for suffix in found:
                if s.name == "secureforms_worker_batch_submissions" + suffix:
                    found[suffix] = float(s.value)
    return found["_count"], found["_sum"]


@pytest.mark.parametrize(("db", "broker"), COMBOS, ids=COMBO_IDS)
def test_messages_that_arrive_while_every_process_is_busy_go_as_one_batch(
    tmp_path: Path, db: str, broker: str
) -> None:
    """One pool process, held in its first batch; 20 more messages arrive one at a time,
    each further apart than the flush timer (5 ms). They wait for the process and go as
    one batch, not as 20 queued behind it."""
    port = free_port()
    with fresh_stack(tmp_path, db, broker, SECUREFORMS_METRICS_TOKEN=METRICS_TOKEN) as stack:
        stack.start_api()
        stack.start_worker(concurrency=1, extra=["--metrics-port", str(port)])
        desk = Desk.make(stack)
        forms = open_forms(desk, 21)
        events = [
            submission_event(desk, sent, i, stack.site_id) for i, (sent, _) in enumerate(forms)
        ]
        publisher = _publisher(stack)
        try:
            with vault_writes_blocked(stack):
                publisher.publish_submission(events[0])
                wait_until("the first batch taken", lambda: broker_counts(stack) == (0, 1), 30)
                for event in events[1:]:
                    publisher.publish_submission(event)
                    time.sleep(0.02)
                wait_until("all taken", lambda: broker_counts(stack) == (0, 21), 30)
                time.sleep(0.2)  # a flush timer that would still fire has had its turns
            wait_until("every submission notified", lambda: len(submitted_events(desk)) >= 21, 60)
        finally:
            publisher.close()
        wait_until("both batches counted", lambda: batch_sizes(port)[1] >= 21, 30)
        assert batch_sizes(port) == (2.0, 21.0)
        wait_until("broker drained", lambda: broker_counts(stack) == (0, 0), 60, 0.5)
        assert_once_each(forms, submitted_events(desk))
        assert vault_rows(stack) == 21
