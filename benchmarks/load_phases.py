"""The timed phases: visitors submitting (closed and open loop) and the no-op floor."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter as now

import project_paths  # noqa: F401  (before support.*)
import redis
from agent_listener import Listener
from cpu_meter import CpuMeter
from form_setup import Ready
from keepalive_http import HttpPool
from service_under_test import Service, producer_settings
from support.flow import card_values

SUBMIT = "/api/v1/visitor/submit"


@dataclass
class Run:
    started: dict[str, float] = field(default_factory=dict)  # submit start (or due time)
    accepted: dict[str, float] = field(default_factory=dict)  # 202 received
    failures: Counter[str] = field(default_factory=Counter)
    answered_202: set[str] = field(default_factory=set)
    missing: int = 0  # answered 202, never notified
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
    if status == 202:
        run.answered_202.add(item.request_id)
    else:
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
    listener.expect(run.answered_202)  # a refused submission is no event to wait for
    run.missing = await listener.wait(timeout)
    return run


async def open_loop(
    pool: HttpPool,
    listener: Listener,
    items: list[Ready],
    rate: float,
    timeout: float,
    start: float | None = None,
) -> Run:
    """Starts submission i at t0 + i/rate whatever the earlier ones are doing; latency is
    taken from the due time, so a late client cannot hide queueing (coordinated omission).
    `start`: t0 (perf_counter), to go on from an earlier run's schedule."""
    run, tasks = Run(), []
    listener.expect(i.request_id for i in items)
    t0 = now() + 0.05 if start is None else start
    for i, item in enumerate(items):
        due = t0 + i / rate
        delay = due - now()
        if delay > 0:
            await asyncio.sleep(delay)
        run.max_lag_ms = max(run.max_lag_ms, (now() - due) * 1000)
        tasks.append(asyncio.create_task(submit_one(pool, item, run, due)))
    await asyncio.gather(*tasks)
    listener.expect(run.answered_202)
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
