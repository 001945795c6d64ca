"""pipeline.py --soak SECONDS --rate R: open-loop submissions at R/s for SECONDS, with what
each role holds in memory every 30 s, then whether the app Redis stayed flat.

Each 10 s slice of submissions is set up (conversation, send, open) while the slice
before it is submitted, so the setup's requests run alongside, as they would for real
visitors; load_phases.open_loop paces each slice on one schedule from the soak's start,
which slides only when a slice's setup is not ready on time. It prints, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter as now
from typing import Any

from agent_listener import Listener
from cpu_meter import rss_by_role
from figures import describe, latencies_ms
from form_setup import Desk, prepare
from load_phases import Run, open_loop
from service_under_test import Service
from store_counters import RedisFootprint

TICK_S = 30.0
SLICE_S = 10.0  # the last slice has no setup beside it: short, so memory is read evenly
SETTLE_S = 120.0  # samples before this are the warm-up of caches, pools and streams
FLAT = 0.10
_ROLES = ("api", "worker", "postgres", "rabbitmq")
_MB = 1e6


@dataclass
class Sample:
    at: float  # seconds into the soak
    notified: int  # submissions notified so far in the soak
    rss: dict[str, int]
    used_memory: int
    keys: int


@dataclass
class Totals:
    submitted: int = 0
    notified: int = 0
    missing: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    max_lag_ms: float = 0.0
    setup_lag_s: float = 0.0  # how far the schedule slid waiting for a slice's setup

    def add(self, run: Run, arrived: dict[str, float]) -> None:
        self.submitted += len(run.started)
        self.notified += sum(1 for r in run.started if r in arrived)
        self.missing += run.missing
        self.failures.update(run.failures)
        self.latencies_ms += latencies_ms(run, arrived)
        self.max_lag_ms = max(self.max_lag_ms, run.max_lag_ms)


async def soak(
    args: argparse.Namespace, service: Service, desk: Desk, listener: Listener, rate: float
) -> dict[str, Any]:
    seconds = float(args.soak)
    per_slice = max(1, round(rate * SLICE_S))
    total = max(1, round(rate * seconds))
    sizes = [min(per_slice, total - done) for done in range(0, total, per_slice)]
    lanes = min(32, max(4, math.ceil(rate / 10)))  # enough setup lanes to stay ahead
    footprint = RedisFootprint(service)
    print(f"soak: {seconds:.0f} s at {rate:.1f}/s open loop, in slices of {per_slice}")
    before = await asyncio.to_thread(footprint.snapshot)
    ready = await prepare(desk, sizes[0], lanes)
    totals, samples = Totals(), []
    t0 = now()
    already = len(listener.arrived)

    def notified() -> int:
        return len(listener.arrived) - already

    sampler = asyncio.create_task(_sample_every(service, footprint, t0, notified, samples))
    try:
        for i in range(len(sizes)):
            upcoming = (
                asyncio.create_task(prepare(desk, sizes[i + 1], lanes))
                if i + 1 < len(sizes)
                else None
            )
            # On schedule, unless this slice's setup ran late: then from now, or the
            # submissions due meanwhile would go at once, a burst no visitor made.
            due = t0 + sum(sizes[:i]) / rate + totals.setup_lag_s
            if now() > due:
                totals.setup_lag_s += now() - due
                due = now()
            run = await open_loop(desk.pool, listener, ready, rate, args.timeout, due)
            totals.add(run, listener.arrived)
            if upcoming is not None:
                ready = await upcoming
        elapsed = now() - t0
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    if not samples or elapsed - samples[-1].at > 1:
        samples.append(await asyncio.to_thread(_sample, service, footprint, elapsed, notified()))
        _print_sample(samples[-1])
    print(
        f"  submitted {totals.submitted} in {elapsed:.0f} s ({totals.submitted / elapsed:.1f}/s),"
        f" notified {totals.notified}, never notified {totals.missing},"
        f" failures {dict(totals.failures) or 0}; client pacing lag max"
        f" {totals.max_lag_ms:.0f} ms, waited {totals.setup_lag_s:.1f} s for setup"
    )
    print(f"  submit -> notified:  {describe(totals.latencies_ms)}")
    kept = RedisFootprint.report(
        before, await asyncio.to_thread(footprint.snapshot), totals.submitted
    )
    footprint.close()
    flat = _flatness(samples)
    return {
        "seconds": elapsed,
        "rate": rate,
        "submitted": totals.submitted,
        "notified": totals.notified,
        "missing": totals.missing,
        "failures": dict(totals.failures),
        "app_redis": kept,
        "redis_flat": flat,
        "samples": [s.__dict__ for s in samples],
    }


async def _sample_every(
    service: Service,
    footprint: RedisFootprint,
    t0: float,
    notified: Callable[[], int],
    samples: list[Sample],
) -> None:
    tick = 0
    while True:
        sample = await asyncio.to_thread(_sample, service, footprint, now() - t0, notified())
        samples.append(sample)
        _print_sample(sample)
        tick += 1
        await asyncio.sleep(max(0.0, t0 + tick * TICK_S - now()))


def _sample(service: Service, footprint: RedisFootprint, at: float, notified: int) -> Sample:
    info = footprint.redis.info("memory")
    rss = {r: b for r, b in rss_by_role(service).items() if r in _ROLES}
    rss["redis"] = int(info["used_memory_rss"])  # the service's own server, not the machine's
    return Sample(at, notified, rss, int(info["used_memory"]), int(footprint.redis.dbsize()))


def _print_sample(s: Sample) -> None:
    held = "  ".join(f"{role} {b / _MB:.0f}" for role, b in sorted(s.rss.items()))
    print(
        f"  [{s.at:5.0f} s] notified {s.notified:6d}  RSS MB: {held}  |  Redis used_memory"
        f" {s.used_memory / _MB:.1f} MB, {s.keys} keys",
        flush=True,
    )


def _flatness(samples: list[Sample]) -> dict[str, Any]:
    """Redis used_memory after SETTLE_S against its first sample from then on."""
    settled = [s for s in samples if s.at >= SETTLE_S - 1]
    if len(settled) < 2:
        print(f"  Redis flat after {SETTLE_S:.0f} s: too short a soak to say")
        return {"flat": None}
    base = settled[0].used_memory
    change = (settled[-1].used_memory - base) / base
    spread = (max(s.used_memory for s in settled) - min(s.used_memory for s in settled)) / base
    flat = spread <= FLAT
    print(
        f"  Redis used_memory from {settled[0].at:.0f} s to {settled[-1].at:.0f} s:"
        f" {base / _MB:.1f} -> {settled[-1].used_memory / _MB:.1f} MB ({change:+.0%},"
        f" spread {spread:.0%}): {'flat' if flat else 'NOT flat'} within {FLAT:.0%}"
    )
    return {"flat": flat, "change": change, "spread": spread}
