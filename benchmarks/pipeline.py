#!/usr/bin/env python
"""End-to-end pipeline benchmark: visitor submit -> queue -> worker -> agent event.

Drives N submissions with C concurrent visitors through a running service (started here
from the `secureforms` CLI, or one given with --url), times each submission from the
start of its HTTP submit to the arrival of its `secure_form.submitted` event on the
agent's SSE stream, and in the same run measures the floor: a no-op Celery task
(`secureforms.noop`) published by the same producer code over the same broker.

Three timed phases, each after its own untimed setup (conversations, sends, opens):

1. throughput: C visitors submit all N as fast as they can (closed loop);
2. floor: N no-op tasks published from C threads, until the worker counted all N;
3. latency: open-loop submissions paced at half the measured throughput (or --rate).

It prints figures and the issue's targets beside them; it never asserts on timing.

    .venv/bin/python benchmarks/pipeline.py --db sqlite --broker redis
    .venv/bin/python benchmarks/pipeline.py --db postgres --broker rabbitmq
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402
import redis  # noqa: E402
from support.flow import card_values  # noqa: E402
from support.stack import PAYMENT_FORM, Stack, free_port  # noqa: E402

TARGET_RATE = 300.0  # submissions/s sustained
TARGET_FLOOR_RATIO = 0.6
TARGET_P99_MS = 100.0
SUBMIT = "/api/v1/visitor/submit"
now = time.perf_counter


# -- a small keep-alive HTTP/1.1 client ---------------------------------------------------
# httpx costs around a millisecond of CPU per request; on a 2-core machine that shares its
# cores with the service, the load generator must stay cheap or it measures itself.


class HttpConn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0
        self.reusable = True

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length: int | None = None
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and "close" in value.lower():
                self.reusable = False
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            data = b"".join(parts)
        else:
            data = await self.reader.readexactly(length or 0)
        self.last_used = now()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None


class HttpPool:
    """Keep-alive connections, spread round-robin over one or more api processes."""

    MAX_IDLE_S = 2.0  # below uvicorn's 5 s keep-alive, so a reused socket is never stale

    def __init__(self, base_urls: list[str]) -> None:
        targets = []
        for url in base_urls:
            parts = urlsplit(url)
            targets.append((parts.hostname or "127.0.0.1", parts.port or 80))
        self._targets = itertools.cycle(targets)
        self._idle: list[HttpConn] = []

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = None
        while self._idle:
            candidate = self._idle.pop()
            if now() - candidate.last_used < self.MAX_IDLE_S:
                conn = candidate
                break
            candidate.close()
        if conn is None:
            conn = HttpConn(*next(self._targets))
        body = b"" if payload is None else json.dumps(payload).encode()
        try:
            status, data = await conn.request(method, path, body, headers or {})
        except BaseException:
            conn.close()
            raise
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()
        return status, data

    async def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        expect: int = 200,
    ) -> Any:
        status, data = await self.request(method, path, payload, headers)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


# -- the service under test ---------------------------------------------------------------


@dataclass
class Service:
    base_urls: list[str]
    site_id: str
    admin: tuple[str, str]
    env: dict[str, str]  # SECUREFORMS_* of the service, for the floor's producer
    stack: Stack | None = None
    data_dir: Path | None = None
    sessions: dict[str, set[int]] = field(default_factory=dict)  # role -> process sessions

    def stop(self, keep: bool) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self.data_dir is not None and not keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _wait_http(url: str, proc: Any, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not proc.alive():
            raise RuntimeError(f"api died:\n{proc.log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"api at {url} did not start in {seconds:g} s")


def start_service(args: argparse.Namespace) -> Service:
    data_dir = Path(tempfile.mkdtemp(prefix=f"sf-bench-{args.db}-{args.broker}-"))
    overrides = {
        "SECUREFORMS_OTK_RATE_PER_MINUTE": "1000000",
        "SECUREFORMS_LOGIN_RATE_PER_MINUTE": "100000",
        "SECUREFORMS_WORKER_PREFETCH": str(args.worker_prefetch),
    }
    if args.log_level:
        overrides["SECUREFORMS_LOG_LEVEL"] = args.log_level
    stack = Stack.build(args.db, args.broker, data_dir, **overrides)
    service = Service([], stack.site_id, stack.admin, dict(stack.env), stack, data_dir)
    try:
        api_sessions: set[int] = set()
        for i in range(args.api_procs):
            port = stack.port if i == 0 else free_port()
            proc = stack._spawn(f"api{i}", "api", "--host", "127.0.0.1", "--port", str(port))
            url = f"http://127.0.0.1:{port}"
            _wait_http(url, proc)
            service.base_urls.append(url)
            api_sessions.add(proc.popen.pid)
        argv = ["worker", "--concurrency", str(args.workers_concurrency)]
        argv += ["--loglevel", args.worker_loglevel]
        if args.worker_pool:
            argv += ["--pool", args.worker_pool]
        worker = stack._spawn("worker", *argv)
        service.sessions = {"api": api_sessions, "worker": {worker.popen.pid}}
        wait_worker_ready(service, worker)
    except BaseException:
        service.stop(args.keep)
        raise
    return service


def wait_worker_ready(service: Service, worker: Any) -> None:
    """Ready means a no-op task went through the broker and the worker ran it."""
    from producers import Publisher

    settings, keyring = producer_settings(service.env)
    publisher = Publisher(settings, keyring)
    marker = f"ready-{uuid.uuid4().hex[:8]}"
    r = redis.Redis.from_url(settings.redis_url)
    deadline = time.time() + 60
    try:
        publisher.publish_noop(marker)
        while time.time() < deadline:
            if worker is not None and not worker.alive():
                raise RuntimeError(f"worker died:\n{worker.log_path.read_text()[-3000:]}")
            if int(r.get(f"sf:bench:{marker}") or 0) >= 1:
                return
            time.sleep(0.05)
        raise RuntimeError("the worker ran no task within 60 s")
    finally:
        publisher.close()
        r.close()


def producer_settings(env: dict[str, str]) -> tuple[Any, Any]:
    from configs import load_settings
    from vault import load_keyring

    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECUREFORMS_")}
    environ.update(env)
    settings = load_settings(environ)
    return settings, load_keyring(
        settings.keyring_path, allow_generate=settings.allows_dev_defaults
    )


def external_service(args: argparse.Namespace) -> Service:
    env = {k: v for k, v in os.environ.items() if k.startswith("SECUREFORMS_")}
    return Service([u.rstrip("/") for u in args.url], args.site_id, tuple(args.admin), env)


# -- CPU accounting from /proc: which process used the cores during a phase ----------------

_TICK = os.sysconf("SC_CLK_TCK")
_RABBIT = ("beam.smp", "erl_child_setup", "epmd", "inet_gethost")


def _postgres_role(pid: str, own_dbs: tuple[str, ...]) -> str:
    """A backend's title names its database: ours, another's (other tests), or none."""
    try:
        title = Path("/proc", pid, "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return "postgres"
    if any(db in title for db in own_dbs):
        return "postgres"
    return "other" if " sf_" in title else "postgres"


def cpu_snapshot(
    sessions: dict[str, set[int]], own_dbs: tuple[str, ...] = (), unused: tuple[str, ...] = ()
) -> dict[str, float]:
    """Seconds of CPU by role. Servers in `unused` serve someone else: they count as other."""
    used: Counter[str] = Counter()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1 : raw.rfind(")")]
        rest = raw[raw.rfind(")") + 2 :].split()
        pid, session = int(entry.name), int(rest[3])
        # own time plus reaped children's: short-lived PostgreSQL backends end up there
        seconds = sum(int(x) for x in rest[11:15]) / _TICK
        role = next((r for r, s in sessions.items() if session in s), None)
        if pid == me:
            role = "bench client"
        elif role is None:
            if comm.startswith("redis-server"):
                role = "redis"
            elif comm == "postgres":
                role = _postgres_role(entry.name, own_dbs)
            elif comm in _RABBIT:
                role = "rabbitmq"
            else:
                role = "other"
        used["other" if role in unused else role] += seconds
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    used["(machine busy)"] = (sum(fields[:3]) + fields[5] + fields[6]) / _TICK
    used["(steal)"] = fields[7] / _TICK if len(fields) > 7 else 0
    return dict(used)


class CpuMeter:
    """Cores each role kept busy between start and stop. Redis, RabbitMQ and the
    PostgreSQL server processes are shared with anything else on the machine."""

    def __init__(self, service: Service) -> None:
        self.sessions = service.sessions
        stack = service.stack
        self.own_dbs = tuple(stack._pg_names) if stack else ()
        self.unused: tuple[str, ...] = ()
        if stack is not None:
            self.unused = (() if stack.db == "postgres" else ("postgres",)) + (
                () if stack.broker == "rabbitmq" else ("rabbitmq",)
            )
        self.start = cpu_snapshot(self.sessions, self.own_dbs, self.unused)
        self.t0 = now()

    def stop(self) -> dict[str, float]:
        end = cpu_snapshot(self.sessions, self.own_dbs, self.unused)
        wall = now() - self.t0
        cores = {k: (end.get(k, 0) - self.start.get(k, 0)) / wall for k in end}
        cores["(wall)"] = wall
        return cores


class StoreCounters:
    """Server-side counters, to turn into round trips per submission."""

    def __init__(self, service: Service) -> None:
        url = service.env.get("SECUREFORMS_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.redis = redis.Redis.from_url(url)
        self.pg_names = list(service.stack._pg_names) if service.stack else []

    def snapshot(self) -> dict[str, int]:
        stats = self.redis.info("stats")
        out = {
            "redis commands": int(stats["total_commands_processed"]),
            "redis connections": int(stats["total_connections_received"]),
        }
        if self.pg_names:
            import sqlalchemy as sa
            from support.stack import PG_ADMIN_URL

            time.sleep(1.1)  # backends flush their statistics about once a second
            engine = sa.create_engine(PG_ADMIN_URL)
            with engine.connect() as conn:
                row = conn.execute(
                    sa.text(
                        "SELECT sum(sessions), sum(xact_commit) FROM pg_stat_database "
                        "WHERE datname = ANY(:names)"
                    ),
                    {"names": self.pg_names},
                ).one()
            engine.dispose()
            out["postgres sessions"], out["postgres commits"] = int(row[0]), int(row[1])
        return out

    @staticmethod
    def per(before: dict[str, int], after: dict[str, int], n: int) -> dict[str, float]:
        return {k: (after[k] - before[k]) / max(n, 1) for k in after}

    def close(self) -> None:
        self.redis.close()


# -- the agents' side: one SSE stream per agent -------------------------------------------


class Listener:
    """Reads every agent's event stream; notes when each `secure_form.submitted` arrives."""

    def __init__(self, base_url: str, agents: list[dict[str, str]]) -> None:
        self.base_url, self.agents = base_url, agents
        self.arrived: dict[str, float] = {}
        self._pending: set[str] = set()
        self._done = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen(h)) for h in self.agents]

    def expect(self, request_ids: Iterable[str]) -> None:
        self._pending = {r for r in request_ids if r not in self.arrived}
        self._done.clear()
        if not self._pending:
            self._done.set()

    async def wait(self, timeout: float) -> int:
        """Waits for every expected event; answers how many never came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)
        return len(self._pending)

    def _note(self, request_id: str, at: float) -> None:
        self.arrived.setdefault(request_id, at)
        self._pending.discard(request_id)
        if not self._pending:
            self._done.set()

    async def _listen(self, headers: dict[str, str]) -> None:
        last = "0"
        while True:
            try:
                hdrs = {**headers, "Accept": "text/event-stream", "Last-Event-ID": last}
                async with self.client.stream("GET", "/api/v1/agent/events", headers=hdrs) as r:
                    if r.status_code != 200:
                        raise RuntimeError(f"agent events: {r.status_code}")
                    kind = ""
                    async for line in r.aiter_lines():
                        if line.startswith("id: "):
                            last = line[4:]
                        elif line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: ") and kind == "secure_form.submitted":
                            at = now()
                            self._note(json.loads(line[6:])["request_id"], at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                print(f"  (event stream dropped: {exc.__class__.__name__}; resuming)")
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()


# -- setup (untimed) ----------------------------------------------------------------------


@dataclass
class Desk:
    pool: HttpPool
    form_id: str
    agents: list[dict[str, str]]


@dataclass(frozen=True)
class Ready:
    request_id: str
    submit_otk: str


async def make_desk(pool: HttpPool, service: Service, agents: int) -> Desk:
    site = service.site_id

    async def login(username: str, password: str) -> dict[str, str]:
        body = {"site_id": site, "username": username, "password": password}
        answer = await pool.call("POST", "/api/v1/auth/login", body)
        return {"Authorization": f"Bearer {answer['token']}"}

    admin = await login(*service.admin)
    form = {**PAYMENT_FORM, "name": f"bench_{uuid.uuid4().hex[:8]}"}
    form_id = (await pool.call("POST", "/api/v1/forms", form, admin, expect=201))["id"]

    async def agent(i: int) -> dict[str, str]:
        username, password = f"bench-{uuid.uuid4().hex[:8]}-{i}", f"pw-{uuid.uuid4().hex}"
        user = {"username": username, "password": password, "role": "agent"}
        await pool.call("POST", "/api/v1/users", user, admin, expect=201)
        return await login(username, password)

    return Desk(pool, form_id, list(await asyncio.gather(*(agent(i) for i in range(agents)))))


async def prepare(desk: Desk, count: int, concurrency: int = 32) -> list[Ready]:
    """`count` forms sent and opened: each one's request id and submit key."""
    pool, numbers = desk.pool, iter(range(count))
    ready: list[Ready] = []

    async def one(i: int) -> None:
        agent = desk.agents[i % len(desk.agents)]
        conv = await pool.call(
            "POST", "/api/v1/conversations", {"visitor": {"name": "V"}}, agent, expect=201
        )
        sent = await pool.call(
            "POST",
            f"/api/v1/conversations/{conv['id']}/secure-forms",
            {"form_id": desk.form_id},
            agent,
            expect=201,
        )
        opened = await pool.call("POST", "/api/v1/visitor/open", {"otk": sent["otk"]})
        ready.append(Ready(sent["request_id"], opened["submit_otk"]))

    async def lane() -> None:
        for i in numbers:
            await one(i)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return ready


# -- timed phases -------------------------------------------------------------------------


@dataclass
class Run:
    started: dict[str, float] = field(default_factory=dict)  # submit start (or due time)
    accepted: dict[str, float] = field(default_factory=dict)  # 202 received
    failures: Counter[str] = field(default_factory=Counter)
    missing: int = 0
    max_lag_ms: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


async def submit_one(pool: HttpPool, item: Ready, run: Run, start: float) -> None:
    run.started[item.request_id] = start
    body = {"otk": item.submit_otk, "values": card_values()}
    try:
        status, _ = await pool.request("POST", SUBMIT, body)
    except Exception as exc:
        run.failures[exc.__class__.__name__] += 1
        return
    run.accepted[item.request_id] = now()
    if status != 202:
        run.failures[f"HTTP {status}"] += 1


async def closed_loop(
    pool: HttpPool, listener: Listener, items: list[Ready], concurrency: int, timeout: float
) -> Run:
    run, queue = Run(), iter(items)
    listener.expect(i.request_id for i in items)

    async def visitor() -> None:
        for item in queue:
            await submit_one(pool, item, run, now())

    await asyncio.gather(*(visitor() for _ in range(concurrency)))
    run.missing = await listener.wait(timeout)
    return run


async def open_loop(
    pool: HttpPool, listener: Listener, items: list[Ready], rate: float, timeout: float
) -> Run:
    """Starts submission i at t0 + i/rate whatever the earlier ones are doing; latency is
    taken from the due time, so a late client cannot hide queueing (coordinated omission)."""
    run, tasks = Run(), []
    listener.expect(i.request_id for i in items)
    t0 = now() + 0.05
    for i, item in enumerate(items):
        due = t0 + i / rate
        delay = due - now()
        if delay > 0:
            await asyncio.sleep(delay)
        run.max_lag_ms = max(run.max_lag_ms, (now() - due) * 1000)
        tasks.append(asyncio.create_task(submit_one(pool, item, run, due)))
    await asyncio.gather(*tasks)
    run.missing = await listener.wait(timeout)
    return run


@dataclass
class Floor:
    count: int
    seconds: float
    publish_seconds: float
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def floor_phase(service: Service, count: int, threads: int) -> Floor:
    """N no-op tasks through the producer the api uses, over the same broker."""
    from producers import Publisher

    settings, keyring = producer_settings(service.env)
    publisher = Publisher(settings, keyring)
    r = redis.Redis.from_url(settings.redis_url)
    marker = f"floor-{uuid.uuid4().hex[:8]}"
    key = f"sf:bench:{marker}"
    try:
        publisher.publish_noop(f"{marker}-warm")  # the producer's connection, untimed
        while not r.get(f"{key}-warm"):
            time.sleep(0.01)
        tickets, lock = iter(range(count)), threading.Lock()

        def pump() -> None:
            while True:
                with lock:
                    if next(tickets, None) is None:
                        return
                publisher.publish_noop(marker)

        meter = CpuMeter(service)
        t0 = now()
        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(pump) for _ in range(threads)]
            for f in futures:
                f.result()
        published = now()
        deadline = time.time() + 300
        while int(r.get(key) or 0) < count and time.time() < deadline:
            time.sleep(0.002)
        done = now()
        return Floor(int(r.get(key) or 0), done - t0, published - t0, meter.stop())
    finally:
        publisher.close()
        r.close()


# -- figures ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def latencies_ms(run: Run, arrived: dict[str, float]) -> list[float]:
    return [(arrived[r] - s) * 1000 for r, s in run.started.items() if r in arrived]


def describe(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {pct(values, 0.5):7.1f}  p95 {pct(values, 0.95):7.1f}  "
        f"p99 {pct(values, 0.99):7.1f}  max {max(values):7.1f} ms"
    )


SERVICE_ROLES = ("api", "worker", "redis", "postgres", "rabbitmq")


def cpu_cost(cpu: dict[str, float], count: int, roles: tuple[str, ...]) -> dict[str, float]:
    """CPU milliseconds per item for each role. Unlike rates, these hardly move when
    other work shares the machine, so they compare runs on a busy box."""
    seconds = cpu.get("(wall)", 0.0)
    return {r: 1000 * cpu.get(r, 0.0) * seconds / max(count, 1) for r in roles if r in cpu}


def print_cost(label: str, cost: dict[str, float], known: bool = True) -> float:
    if not known:
        print(f"  CPU ms per {label}: n/a (--url: the service's processes are not known)")
        return math.nan
    total = sum(cost.values())
    parts = "  ".join(f"{k} {v:.2f}" for k, v in cost.items() if v >= 0.005)
    ceiling = (os.cpu_count() or 1) * 1000 / total if total else math.nan
    print(f"  CPU ms per {label}: {parts}  = {total:.2f} ms (all cores busy: {ceiling:.0f}/s)")
    return total


def print_cpu(cpu: dict[str, float], known: bool = True) -> None:
    order = sorted((k for k in cpu if not k.startswith("(")), key=lambda k: -cpu[k])
    shown = "  ".join(f"{k} {cpu[k]:.2f}" for k in order if cpu[k] >= 0.01)
    steal = cpu.get("(steal)", 0)
    machine = f"machine {cpu.get('(machine busy)', 0):.2f}" + (
        f", steal {steal:.2f}" if steal >= 0.01 else ""
    )
    print(f"  CPU, cores busy: {shown}  | {machine}")
    if known and cpu.get("other", 0) >= 0.1:
        print(
            f"  WARNING: processes outside this benchmark used {cpu['other']:.2f} cores;"
            " these figures understate the service"
        )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- optional sampling profiler ------------------------------------------------------------


class Profiler:
    """py-spy on the api and the worker during phase 1, sampling only the thread that holds
    the GIL: a CPU view of each Python process. py-spy itself takes CPU (shown as
    "profiler"), so figures of a profiled run are lower than an unprofiled one."""

    def __init__(self, out_dir: Path | None, service: Service, rate: int = 100) -> None:
        self.out_dir, self.procs, self.rate, self.t0 = out_dir, [], rate, now()
        if out_dir is None or service.stack is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, proc in service.stack.procs.items():
            cmd = [spy, "record", "--pid", str(proc.popen.pid), "--rate", str(rate), "--gil"]
            cmd += ["--subprocesses", "--nonblocking", "--format", "raw"]
            cmd += ["--output", str(out_dir / f"{name}.txt")]
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        service.sessions["profiler"] = {p.pid for p in self.procs}

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        seconds = now() - self.t0
        if self.out_dir is not None and self.procs:
            print(f"  py-spy collapsed stacks in {self.out_dir} (flamegraph.pl or speedscope)")
            for path in sorted(self.out_dir.glob("*.txt")):
                summarize_stacks(path, seconds, self.rate)


_PROJECT = ("api/", "core/", "vault/", "producers/", "workers/", "configs/")
# The first library met walking up from the sampled leaf names the bucket.
_BUCKETS = (
    ("sqlalchemy/", "SQL (SQLAlchemy + driver)"),
    ("psycopg", "SQL (SQLAlchemy + driver)"),
    ("redis/", "Redis client"),
    ("kombu/", "Celery/kombu messaging"),
    ("celery/", "Celery/kombu messaging"),
    ("billiard/", "Celery prefork pool (billiard)"),
    ("amqp/", "Celery/kombu messaging"),
    ("vine/", "Celery/kombu messaging"),
    ("logging/", "logging"),
    ("cryptography/", "crypto"),
    ("json/", "json"),
    ("uvicorn/", "HTTP server (uvicorn, httptools)"),
    ("starlette/", "Starlette routing, middleware, responses"),
    ("anyio/", "thread-pool hop (anyio)"),
    ("threading.py", "thread-pool hop (anyio)"),
    ("queue.py", "thread-pool hop (anyio)"),
    ("asyncio/", "asyncio event loop"),
    ("uuid.py", "uuid"),
    ("datetime.py", "datetime"),
)


def _frame(raw: str) -> tuple[str, str]:
    function, _, where = raw.strip().partition(" (")
    path = where.rsplit(":", 1)[0]
    return function, path


def _bucket(frames: list[tuple[str, str]]) -> str:
    for _function, path in reversed(frames):
        for needle, bucket in _BUCKETS:
            if needle in path:
                return bucket
        if path.startswith(_PROJECT):
            return f"app code ({path.split('/')[0]}/)"
    return "other"


def summarize_stacks(path: Path, seconds: float, rate: int = 100, top: int = 14) -> None:
    """Where a process's GIL time went, from py-spy's collapsed output: by library bucket,
    and by project function (inclusive)."""
    buckets: Counter[str] = Counter()
    project: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";")[1:]]
        total += int(n)
        buckets[_bucket(frames)] += int(n)
        for function, where in set(frames):
            if where.startswith(_PROJECT):
                project[f"{function} ({where})"] += int(n)
    if not total:
        return
    held = total / rate / seconds
    print(f"  {path.stem}: {total} samples; GIL held {held:.2f} s per s (summed over processes)")
    print("    by library (innermost one on the stack):")
    for bucket, n in buckets.most_common():
        print(f"    {100 * n / total:5.1f}%  {bucket}")
    print("    by project function (inclusive):")
    for function, n in project.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {function}")


# -- main ---------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, service: Service) -> dict[str, Any]:
    pool = HttpPool(service.base_urls)
    desk = await make_desk(pool, service, args.agents)
    listener = Listener(service.base_urls[0], desk.agents)
    listener.start()
    figures: dict[str, Any] = {}
    known = service.stack is not None  # with --url the service's processes count as other
    try:
        if args.warmup:
            items = await prepare(desk, args.warmup)
            await closed_loop(pool, listener, items, args.concurrency, args.timeout)

        print(f"setup: {args.n} conversations, sends and opens for phase 1 ...", flush=True)
        items = await prepare(desk, args.n)
        print(f"phase 1: {args.n} submissions, {args.concurrency} concurrent visitors", flush=True)
        counters = StoreCounters(service)
        before = await asyncio.to_thread(counters.snapshot)
        profiler = Profiler(args.py_spy, service)
        meter = CpuMeter(service)
        run = await closed_loop(pool, listener, items, args.concurrency, args.timeout)
        run.cpu = meter.stop()
        profiler.stop()
        after = await asyncio.to_thread(counters.snapshot)
        counters.close()
        per = StoreCounters.per(before, after, len(items))
        arrived = listener.arrived
        first = min(run.started.values())
        notified = [arrived[r] for r in run.started if r in arrived]
        e2e = latencies_ms(run, arrived)
        http = [(run.accepted[r] - s) * 1000 for r, s in run.started.items() if r in run.accepted]
        queued = [(arrived[r] - run.accepted[r]) * 1000 for r in run.accepted if r in arrived]
        rate = len(notified) / (max(notified) - first) if notified else 0.0
        ingest = len(run.accepted) / (max(run.accepted.values()) - first)
        print(f"  submissions/s end to end: {rate:.1f}   (api accepted at {ingest:.1f}/s)")
        print(f"  submit -> notified:  {describe(e2e)}")
        print(f"  submit -> 202:       {describe(http)}")
        print(f"  202 -> notified:     {describe(queued)}")
        if run.failures or run.missing:
            print(f"  failures: {dict(run.failures)}; never notified: {run.missing}")
        print_cpu(run.cpu, known)
        cost1 = cpu_cost(run.cpu, len(items), SERVICE_ROLES)
        sub_ms = print_cost("submission (service side)", cost1, known)
        print("  per submission: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
        figures["phase1"] = {
            "per_submission": per,
            "submissions_per_s": rate,
            "api_accepted_per_s": ingest,
            "e2e_ms": {q: pct(e2e, q / 100) for q in (50, 95, 99)},
            "http_ms": {q: pct(http, q / 100) for q in (50, 95, 99)},
            "failures": dict(run.failures),
            "missing": run.missing,
            "cpu_cores": run.cpu,
            "cpu_ms_per_submission": cost1,
        }

        floor: Floor | None = None
        floor_ms = math.nan
        if args.skip_floor:
            print("phase 2: skipped")
        else:
            print(f"phase 2 (floor): {args.n} no-op tasks from {args.concurrency} threads")
            floor = await asyncio.to_thread(floor_phase, service, args.n, args.concurrency)
            print(
                f"  floor: {floor.rate:.1f} tasks/s (published in {floor.publish_seconds:.2f} s,"
                f" all run in {floor.seconds:.2f} s; counted {floor.count}/{args.n})"
            )
            print_cpu(floor.cpu, known)
            # the floor's publisher is this process: its CPU is part of the floor's cost
            roles = ("bench client", "worker", "redis", "rabbitmq")
            cost2 = cpu_cost(floor.cpu, args.n, roles)
            floor_ms = print_cost("no-op task (publisher + broker + worker)", cost2, known)
            figures["floor"] = {
                "tasks_per_s": floor.rate,
                "cpu_cores": floor.cpu,
                "cpu_ms_per_task": cost2,
            }

        paced = args.rate or rate / 2
        count = args.latency_n
        print(f"setup: {count} sends and opens for phase 3 ...", flush=True)
        items = await prepare(desk, count)
        print(f"phase 3: {count} submissions paced at {paced:.1f}/s (open loop)", flush=True)
        meter = CpuMeter(service)
        run3 = await open_loop(pool, listener, items, paced, args.timeout)
        run3.cpu = meter.stop()
        lat3 = latencies_ms(run3, listener.arrived)
        http3 = [
            (run3.accepted[r] - s) * 1000 for r, s in run3.started.items() if r in run3.accepted
        ]
        print(f"  submit -> notified:  {describe(lat3)}")
        print(f"  submit -> 202:       {describe(http3)}")
        print(f"  client pacing lag max {run3.max_lag_ms:.1f} ms")
        if run3.failures or run3.missing:
            print(f"  failures: {dict(run3.failures)}; never notified: {run3.missing}")
        print_cpu(run3.cpu, known)
        figures["phase3"] = {
            "rate": paced,
            "e2e_ms": {q: pct(lat3, q / 100) for q in (50, 95, 99)},
            "http_ms": {q: pct(http3, q / 100) for q in (50, 95, 99)},
            "failures": dict(run3.failures),
            "missing": run3.missing,
            "cpu_cores": run3.cpu,
        }

        ratio = rate / floor.rate if floor else math.nan
        p99 = pct(lat3, 0.99)
        rows = [
            (
                "submissions/s (phase 1, end to end)",
                f"{rate:.1f}",
                f">= {TARGET_RATE:g}",
                verdict(rate >= TARGET_RATE),
            ),
            ("floor no-op tasks/s (phase 2)", f"{floor.rate:.1f}" if floor else "-", "", ""),
            (
                "ratio to floor",
                f"{ratio:.2f}",
                f">= {TARGET_FLOOR_RATIO:g}",
                verdict(ratio >= TARGET_FLOOR_RATIO) if floor else "-",
            ),
            ("CPU ms per submission / per no-op", f"{sub_ms:.2f}/{floor_ms:.2f}", "", ""),
            (
                "  ratio if both were CPU-bound",
                f"{floor_ms / sub_ms if sub_ms else math.nan:.2f}",
                "",
                "",
            ),
            ("p50 submit->notified, phase 1", f"{pct(e2e, 0.5):.1f} ms", "", ""),
            ("p95 submit->notified, phase 1", f"{pct(e2e, 0.95):.1f} ms", "", ""),
            ("p99 submit->notified, phase 1", f"{pct(e2e, 0.99):.1f} ms", "", ""),
            (f"p50 at {paced:.0f}/s (phase 3)", f"{pct(lat3, 0.5):.1f} ms", "", ""),
            (f"p95 at {paced:.0f}/s (phase 3)", f"{pct(lat3, 0.95):.1f} ms", "", ""),
            (
                f"p99 at {paced:.0f}/s (phase 3)",
                f"{p99:.1f} ms",
                f"< {TARGET_P99_MS:g} ms",
                verdict(p99 < TARGET_P99_MS),
            ),
        ]
        if args.rate is None and rate < TARGET_RATE:
            rows.append(
                (
                    f"  (half the target rate is {TARGET_RATE / 2:g}/s; use --rate to pace there)",
                    "",
                    "",
                    "",
                )
            )
        print("\nsummary")
        print(f"  {'figure':<42} {'measured':>12} {'target':>12}  verdict")
        for name, value, target, ok in rows:
            print(f"  {name:<42} {value:>12} {target:>12}  {ok}")
        figures["summary"] = {
            "submissions_per_s": rate,
            "floor_per_s": floor.rate if floor else None,
            "ratio": ratio,
            "phase3_rate": paced,
            "phase3_p99_ms": p99,
            "cpu_ms_per_submission": sub_ms,
            "cpu_ms_per_noop": floor_ms,
        }
        return figures
    finally:
        await listener.close()
        pool.close()


def machine_facts(args: argparse.Namespace, service: Service) -> dict[str, Any]:
    external = service.stack is None
    facts = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "db": "external" if external else args.db,
        "broker": "external" if external else args.broker,
        "api processes": len(service.base_urls),
        "worker": "external"
        if external
        else f"{args.worker_pool or 'prefork'} x{args.workers_concurrency}, "
        f"prefetch {args.worker_prefetch}, loglevel {args.worker_loglevel}",
        "service log level": args.log_level or "INFO (test.toml)",
        "agents": args.agents,
        "n": args.n,
        "concurrency": args.concurrency,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    return facts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="submissions in phases 1 and 2")
    p.add_argument(
        "--concurrency", type=int, default=32, help="concurrent visitors (and floor threads)"
    )
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    p.add_argument("--workers-concurrency", type=int, default=2, help="worker processes")
    p.add_argument("--worker-pool", choices=["prefork", "threads", "solo"], default=None)
    p.add_argument("--worker-loglevel", default="INFO", help="the worker's --loglevel")
    p.add_argument("--worker-prefetch", type=int, default=8)
    p.add_argument(
        "--log-level", default=None, help="SECUREFORMS_LOG_LEVEL of api and worker (test: INFO)"
    )
    p.add_argument("--api-procs", type=int, default=1, help="api processes (separate ports)")
    p.add_argument("--agents", type=int, default=8, help="agents (one event stream each)")
    p.add_argument(
        "--rate", type=float, default=None, help="phase 3 pace (default: half of phase 1)"
    )
    p.add_argument("--latency-n", type=int, default=1000, help="submissions in phase 3")
    p.add_argument("--warmup", type=int, default=100, help="untimed submissions first")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for events")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile api and worker with py-spy during phase 1 into DIR",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and logs")
    p.add_argument(
        "--url",
        action="append",
        default=None,
        help="an already running api (repeat for several); needs --site-id, --admin\n"
        "and the service's SECUREFORMS_* variables in the environment",
    )
    p.add_argument("--site-id")
    p.add_argument("--admin", nargs=2, metavar=("USERNAME", "PASSWORD"))
    args = p.parse_args(argv)
    if args.url and not (args.site_id and args.admin):
        p.error("--url needs --site-id and --admin USERNAME PASSWORD")
    return args


def print_errors(stack: Stack, lines: int = 60) -> None:
    """The service's own account of a failure, before its logs go with the data dir."""
    for path in sorted(stack.data_dir.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()
        marks = [i for i, line in enumerate(text) if "Traceback" in line or " ERROR " in line]
        if marks:
            print(f"--- {path.name} (from its first error)", file=sys.stderr)
            print("\n".join(text[marks[0] : marks[0] + lines]), file=sys.stderr)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.time()
    service: Service | None = None
    try:
        if args.url:
            service = external_service(args)
        else:
            print(f"starting api x{args.api_procs} + worker ({args.db}, {args.broker}) ...")
            service = start_service(args)
        facts = machine_facts(args, service)
        print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
        figures = asyncio.run(bench(args, service))
        figures["machine"] = facts
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        print(f"\n(total run {time.time() - started:.0f} s)")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the stack")
        return 130
    except Exception:
        if service is not None and service.stack is not None:
            print_errors(service.stack)
        raise
    finally:
        if service is not None:
            if args.keep and service.data_dir:
                print(f"kept {service.data_dir}")
            service.stop(args.keep)


if __name__ == "__main__":
    sys.exit(main())
