"""Outages on real services, with figures: while visitors submit at a steady rate, one thing
breaks at a time, and every visitor's submission is counted afterwards.

Two stacks, one per broker kind, each shared by its rows (a stack takes seconds to start):
- SQLite, a Redis broker and an app Redis, both private redis-servers on ports of their own
  (the broker with `appendfsync everysec` as scripts/dev.sh runs it; the app Redis with
  `appendfsync always`, see DurableRedis), two beats;
- PostgreSQL and RabbitMQ, production's shape: a private cluster (initdb) and a private
  RabbitMQ node, so restarting them touches nobody else.

Per row: submits answered 503 (the visitor keeps the key and tries again once it is back),
any other 5xx (must be 0), visitors accepted, stored, notified, lost (must be 0), and the
time from the repair until a submission accepted after it reached the agent. The table is
printed at the end of the run (tests/integration/conftest.py) and kept in docs/operations.md.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import pytest
from integration.test_no_loss import open_forms, wait_until
from support.brokers import AofRedis, PrivateRedis
from support.flow import Desk
from support.outages import Flow, Row, Supervisor
from support.private_services import PrivatePostgres, PrivateRabbit
from support.stack import Stack

from configs.celery import QUEUE

VISITORS = 30
EVERY_S = 0.2  # one submit every EVERY_S: 30 visitors over 6 s
BURST_S = 0.05  # for the rows where nothing breaks while they submit
BREAK_AFTER = 6  # submits sent before the outage starts
HOLD = 8  # submits sent while it lasts (before the repair starts)
SWEEP_S = 2  # the beats' sweep interval on the Redis side
PG_VAULT = "sf_vault"


class DurableRedis(PrivateRedis):
    """The app Redis as a restart can give back: `appendfsync always`. The compose file runs
    it without persistence, and a restart there forgets every open form and session (the
    visitors then need a new link); what this row tests is the api's answer while it is
    gone and that nothing was spent or half-written, so the restart keeps the keys."""

    persistence = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


@dataclass
class Side:
    stack: Stack
    supervisor: Supervisor
    broker: AofRedis | None = None
    app_redis: PrivateRedis | None = None
    rabbit: PrivateRabbit | None = None
    vhost: str = ""
    pg: PrivatePostgres | None = None
    restarts_before: int = 0  # the supervisor's count when the current row began
    desk: Desk | None = None  # one agent and form for the side's rows

    def flow(self, every_s: float = EVERY_S) -> Flow:
        self.restarts_before = self.supervisor.restarts
        if self.desk is None:
            self.desk = Desk.make(self.stack)
        return Flow(self.desk, open_forms(self.desk, VISITORS), every_s).start()


def _start_beat(stack: Stack, name: str) -> None:
    """A beat with a schedule file of its own (two beats, as on two hosts)."""
    folder = stack.data_dir / name
    folder.mkdir()
    shared = stack.env["SECUREFORMS_DATA_DIR"]
    stack.env["SECUREFORMS_DATA_DIR"] = str(folder)
    try:
        stack._spawn(name, "beat", "--loglevel", "INFO")
    finally:
        stack.env["SECUREFORMS_DATA_DIR"] = shared


@pytest.fixture(scope="module")
def private_services() -> Iterator[tuple[PrivateRabbit, PrivatePostgres, list[Future[None]]]]:
    """The PostgreSQL + RabbitMQ side's own servers, booting in the background from the
    module's first row on: a RabbitMQ node takes seconds to boot, the Redis side's rows
    cover them."""
    rabbit, pg = PrivateRabbit(), PrivatePostgres()
    with ThreadPoolExecutor(2, thread_name_prefix="boot") as pool:
        booted = [pool.submit(rabbit.start), pool.submit(pg.start)]
        try:
            yield rabbit, pg, booted
        finally:
            wait(booted)
            rabbit.close()
            pg.close()


@pytest.fixture(scope="module")
def redis_side(
    tmp_path_factory: pytest.TempPathFactory,
    private_services: tuple[PrivateRabbit, PrivatePostgres, list[Future[None]]],  # boot early
) -> Iterator[Side]:
    tmp = tmp_path_factory.mktemp("outages-redis")
    broker, app_redis = AofRedis(tmp / "broker"), DurableRedis(tmp / "app-redis")
    try:
        broker.start()
        app_redis.start()
        with Stack.running(
            "sqlite",
            "redis",
            tmp / "stack",
            SECUREFORMS_BROKER_URL=broker.url,
            SECUREFORMS_REDIS_URL=app_redis.url,
            SECUREFORMS_SWEEP_INTERVAL_S=str(SWEEP_S),
        ) as stack:
            for name in ("beat-a", "beat-b"):
                _start_beat(stack, name)
            supervisor = Supervisor(stack)
            try:
                yield Side(stack, supervisor, broker=broker, app_redis=app_redis)
            finally:
                supervisor.stop()
    finally:
        broker.stop()
        app_redis.stop()


@pytest.fixture(scope="module")
def rabbit_side(
    tmp_path_factory: pytest.TempPathFactory,
    private_services: tuple[PrivateRabbit, PrivatePostgres, list[Future[None]]],
) -> Iterator[Side]:
    tmp = tmp_path_factory.mktemp("outages-rabbit")
    rabbit, pg, booted = private_services
    for boot in booted:
        boot.result()
    vhost = "sf-outage"
    # The stack's own labels would make it a shared-PostgreSQL database and a vhost on
    # the shared node: built as the cheap kind, every URL then points at the private ones.
    with Stack.running(
        "sqlite",
        "redis",
        tmp / "stack",
        SECUREFORMS_BROKER_URL=rabbit.add_vhost(vhost),
        SECUREFORMS_APP_DATABASE_URL=pg.create_database("sf_app"),
        SECUREFORMS_VAULT_DATABASE_URL=pg.create_database(PG_VAULT),
    ) as stack:
        stack.db, stack.broker = "postgres", "rabbitmq"
        supervisor = Supervisor(stack)
        try:
            yield Side(stack, supervisor, rabbit=rabbit, vhost=vhost, pg=pg)
        finally:
            supervisor.stop()


def _settle(
    side: Side,
    flow: Flow,
    outage: str,
    since: float,
    note: str = "",
    recover_s: float | None = None,
) -> Row:
    """The rest of the flow, the refused visitors' retries, the counts; asserts the row.

    `recover_s`, unless given: from `since` (the repair) until a submission accepted after
    it reached the agent."""
    try:
        flow.finish()
        if recover_s is None:
            recover_s = flow.recovered_s(since, timeout=30)
        flow.wait_notified(timeout=90)
    finally:
        flow.close()
    restarted = side.supervisor.restarts - side.restarts_before
    if restarted:
        note = f"{note}; worker restarted by the supervisor x{restarted}".lstrip("; ")
    row = flow.row(outage, side.stack, recover_s, note)
    print(f"\n[outages] {row}")
    assert row.other_5xx == 0, row
    assert row.lost == 0, row
    return row


def _refused_while(
    side: Side,
    outage: str,
    breaks: Callable[[], None],
    repair: Callable[[], None],
    during: Callable[[Flow], None] = lambda flow: None,
) -> Row:
    """Break it once BREAK_AFTER submits went, hear a 503, keep it broken while HOLD more
    go, repair it; then the retries and the counts (recover s: from the repair)."""
    flow = side.flow()
    flow.wait_sent(BREAK_AFTER)
    breaks()
    try:
        flow.wait_heard(503)
        during(flow)
        flow.wait_sent(min(VISITORS, flow.sent() + HOLD))
    finally:
        repair()
    row = _settle(side, flow, outage, time.monotonic())
    assert row.refused > 0
    return row


# -- the Redis side -----------------------------------------------------------------------


def test_redis_broker_shutdown_and_start(redis_side: Side) -> None:
    broker = redis_side.broker
    assert broker is not None
    # Kombu's silent stall after a reconnect (Celery #10302) would fail this: _settle wants
    # a submission accepted after the broker's return notified within 30 s.
    _refused_while(redis_side, "redis broker: SHUTDOWN, start", broker.shutdown, broker.start)


def test_app_redis_killed_and_started(redis_side: Side) -> None:
    app_redis = redis_side.app_redis
    assert app_redis is not None
    row = _refused_while(redis_side, "app redis: SIGKILL, start", app_redis.stop, app_redis.start)
    # Refused visitors were accepted later with the key they held: the 503 spent nothing.
    assert row.accepted == VISITORS


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_worker_killed_under_load(redis_side: Side, sig: signal.Signals) -> None:
    flow = redis_side.flow()
    flow.wait_sent(BREAK_AFTER)
    killed = time.monotonic()
    redis_side.stack.kill(redis_side.supervisor.current, sig)
    _settle(redis_side, flow, f"worker: {sig.name} under load", killed)


def test_worker_that_never_comes_back(redis_side: Side) -> None:
    side, stack = redis_side, redis_side.stack
    side.supervisor.paused = True
    try:
        flow = side.flow()
        flow.wait_sent(BREAK_AFTER)
        stack.kill(side.supervisor.current, signal.SIGKILL)
        flow.finish()
        assert side.broker is not None
        client = side.broker.client()
        try:
            # Its in-flight messages come back from `unacked` after the visibility timeout.
            wait_until("every submission waiting", lambda: client.llen(QUEUE) > 0, 30)
            waiting = int(client.llen(QUEUE)) + int(client.hlen("unacked"))
        finally:
            client.close()
        started = time.monotonic()
        side.supervisor.current = "worker-new"
        stack.start_worker(name="worker-new")
    finally:
        side.supervisor.paused = False
    wait_until("drained", lambda: len(flow.notified_at) >= VISITORS, 90, 0.1)
    drained_s = time.monotonic() - started
    _settle(
        side,
        flow,
        "worker gone; a new one drains",
        started,
        f"{waiting} waited for a worker; recover s: new worker started until all notified",
        recover_s=drained_s,
    )


def test_beat_killed_the_other_beat_goes_on(redis_side: Side) -> None:
    """Two beats run at once, each sends every task; a Redis slot claim (core.locks) lets
    one run per interval. Killing one leaves the other sending: the next run is due
    within one interval, with no election to wait for."""
    assert redis_side.app_redis is not None
    client = redis_side.app_redis.client()

    def slots() -> set[int]:
        return {int(k.rsplit(b":", 1)[1]) for k in client.scan_iter("sf:slot:sweep:*")}

    try:
        wait_until("both beats' sweeps running", lambda: len(slots()) >= 2, 60, 0.2)
        flow = redis_side.flow()
        flow.wait_sent(BREAK_AFTER)
        killed, at_kill = time.monotonic(), int(time.time() // SWEEP_S)
        redis_side.stack.kill("beat-a", signal.SIGKILL)
        # Two slots after the kill: one could be a late run of the dead beat's last send.
        wait_until("a sweep after the kill", lambda: max(slots()) > at_kill, SWEEP_S * 10, 0.1)
        takeover_s = time.monotonic() - killed
        # and another: one could be a late run of what the dead beat sent last
        wait_until("a second", lambda: len({s for s in slots() if s > at_kill}) >= 2, 30, 0.1)
    finally:
        client.close()
    _settle(
        redis_side,
        flow,
        "beat: SIGKILL one of two",
        killed,
        f"recover s: the first sweep after the kill ({SWEEP_S} s interval), by the other beat",
        recover_s=takeover_s,
    )


# -- the PostgreSQL + RabbitMQ side -------------------------------------------------------


def test_rabbitmq_stop_app_and_start_app(rabbit_side: Side) -> None:
    rabbit = rabbit_side.rabbit
    assert rabbit is not None
    # As with the Redis broker: consuming again within 30 s, or Celery #10302 is back.
    _refused_while(rabbit_side, "rabbitmq: stop_app, start_app", rabbit.stop_app, rabbit.start_app)


def test_postgresql_restarts_during_the_flow(rabbit_side: Side) -> None:
    pg = rabbit_side.pg
    assert pg is not None
    # -m fast: every connection of the api and the worker is cut
    _refused_while(rabbit_side, "postgresql: stop -m fast, start", pg.stop, pg.start)


def _vault_read_only(pg: PrivatePostgres, on: bool) -> None:
    """As a failover to a read-only server looks to clients: the setting, and every open
    connection cut (a database setting reaches new sessions only)."""
    pg.admin(
        f'ALTER DATABASE "{PG_VAULT}" SET default_transaction_read_only = {"on" if on else "off"}',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 - our constant
        f"WHERE datname = '{PG_VAULT}' AND pid <> pg_backend_pid()",
    )


def test_vault_database_read_only(rabbit_side: Side) -> None:
    pg = rabbit_side.pg
    assert pg is not None

    def not_ready(flow: Flow) -> None:
        with flow.desk.client() as c:
            ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["vault_writable"] is False

    _refused_while(
        rabbit_side,
        "vault db: read-only, writable",
        lambda: _vault_read_only(pg, True),
        lambda: _vault_read_only(pg, False),
        during=not_ready,
    )


def test_rabbitmq_restart_keeps_confirmed_messages(rabbit_side: Side) -> None:
    """Production's promise: a 202 means RabbitMQ confirmed a persistent message on a
    durable queue, so a broker restart with no worker running keeps every one of them."""
    side, stack, rabbit = rabbit_side, rabbit_side.stack, rabbit_side.rabbit
    assert rabbit is not None
    side.supervisor.paused = True
    try:
        stack.kill(side.supervisor.current, signal.SIGKILL)  # idle: the last row drained
        flow = side.flow(BURST_S)
        flow.finish()
        assert len(flow.accepted_at) == VISITORS  # each one confirmed by the broker
        rabbit.stop_app()
        rabbit.start_app()
        # (ready, unacknowledged, durable): no worker has run since the first 202. Messages,
        # not submissions: the api may send several in one (group commit); the drain
        # below counts the submissions.
        ready, unacked, durable = rabbit.queue(side.vhost, QUEUE)
        assert 1 <= ready <= VISITORS and unacked == 0 and durable
        started = time.monotonic()
        side.supervisor.current = "worker-after-restart"
        stack.start_worker(name=side.supervisor.current)
    finally:
        side.supervisor.paused = False
    wait_until("drained", lambda: len(flow.notified_at) >= VISITORS, 90, 0.1)
    _settle(
        side,
        flow,
        "rabbitmq restart, no worker",
        started,
        f"{VISITORS} confirmed and kept across the restart; recover s: new worker until drained",
        recover_s=time.monotonic() - started,
    )
