"""One pipeline.py run: setup, warm-up, the three timed phases and the summary, printed as
they go and returned as figures for --json."""

from __future__ import annotations

import argparse
import asyncio
import math
from typing import Any

from agent_listener import Listener
from cpu_meter import CpuMeter
from figures import (
    SERVICE_ROLES,
    accepted_ms,
    cpu_cost,
    describe,
    latencies_ms,
    pct,
    print_cost,
    print_cpu,
    print_failures,
    quantiles,
    targets_for,
    verdict,
)
from form_setup import Desk, make_desk, prepare
from keepalive_http import HttpPool
from load_phases import Floor, closed_loop, floor_phase, open_loop
from service_under_test import Service
from soak import soak
from stack_profiler import Profiler
from store_counters import RedisFootprint, StoreCounters


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
        rate, e2e, sub_ms = await throughput(args, service, desk, listener, known, figures)
        worker_ms = figures["phase1"]["cpu_ms_per_submission"].get("worker", math.nan)
        if args.soak:  # in place of phases 2 and 3
            figures["soak"] = await soak(args, service, desk, listener, args.rate or rate / 2)
            return figures
        floor, floor_ms = await no_op_floor(args, service, known, figures)
        paced, lat3 = await paced_latency(args, service, desk, listener, rate, known, figures)
        ratio = rate / floor.rate if floor else math.nan
        p99 = pct(lat3, 0.99)
        print_summary(args, rate, floor, ratio, (sub_ms, worker_ms, floor_ms), e2e, paced, lat3)
        figures["summary"] = {
            "submissions_per_s": rate,
            "floor_per_s": floor.rate if floor else None,
            "ratio": ratio,
            "phase3_rate": paced,
            "phase3_p99_ms": p99,
            "cpu_ms_per_submission": sub_ms,
            "worker_cpu_ms_per_submission": worker_ms,
            "cpu_ms_per_noop": floor_ms,
        }
        return figures
    finally:
        await listener.close()
        pool.close()


async def throughput(
    args: argparse.Namespace,
    service: Service,
    desk: Desk,
    listener: Listener,
    known: bool,
    figures: dict[str, Any],
) -> tuple[float, list[float], float]:
    """Phase 1: C visitors submit all N as fast as they can. Answers the end-to-end rate,
    the latencies and the service's CPU ms per submission."""
    pool = desk.pool
    # From before the setup: a submission's conversation, send and open leave keys too.
    footprint = RedisFootprint(service)
    kept_before = await asyncio.to_thread(footprint.snapshot)
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
    http = accepted_ms(run)
    queued = [(arrived[r] - run.accepted[r]) * 1000 for r in run.accepted if r in arrived]
    rate = len(notified) / (max(notified) - first) if notified else 0.0
    ingest = len(run.accepted) / (max(run.accepted.values()) - first)
    print(f"  submissions/s end to end: {rate:.1f}   (api accepted at {ingest:.1f}/s)")
    print(f"  submit -> notified:  {describe(e2e)}")
    print(f"  submit -> 202:       {describe(http)}")
    print(f"  202 -> notified:     {describe(queued)}")
    print_failures(run)
    print_cpu(run.cpu, known)
    cost1 = cpu_cost(run.cpu, len(items), SERVICE_ROLES)
    sub_ms = print_cost("submission (service side)", cost1, known)
    per, by_name = StoreCounters.split(per)
    print("  per submission: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
    print("    redis by command: " + ", ".join(f"{k} {v:.2f}" for k, v in by_name.items()))
    kept = RedisFootprint.report(
        kept_before, await asyncio.to_thread(footprint.snapshot), len(items)
    )
    footprint.close()
    figures["phase1"] = {
        "per_submission": per,
        "app_redis": kept,
        "submissions_per_s": rate,
        "api_accepted_per_s": ingest,
        "e2e_ms": quantiles(e2e),
        "http_ms": quantiles(http),
        "failures": dict(run.failures),
        "missing": run.missing,
        "cpu_cores": run.cpu,
        "cpu_ms_per_submission": cost1,
    }
    return rate, e2e, sub_ms


async def no_op_floor(
    args: argparse.Namespace, service: Service, known: bool, figures: dict[str, Any]
) -> tuple[Floor | None, float]:
    """Phase 2: N no-op tasks through the api's producer; answers the floor (None when
    skipped) and its CPU ms per task."""
    if args.skip_floor:
        print("phase 2: skipped")
        return None, math.nan
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
    return floor, floor_ms


async def paced_latency(
    args: argparse.Namespace,
    service: Service,
    desk: Desk,
    listener: Listener,
    rate: float,
    known: bool,
    figures: dict[str, Any],
) -> tuple[float, list[float]]:
    """Phase 3: open-loop submissions at half the phase-1 rate (or --rate); answers the
    pace and the latencies."""
    paced = args.rate or rate / 2
    count = args.latency_n
    print(f"setup: {count} sends and opens for phase 3 ...", flush=True)
    items = await prepare(desk, count)
    print(f"phase 3: {count} submissions paced at {paced:.1f}/s (open loop)", flush=True)
    meter = CpuMeter(service)
    run3 = await open_loop(desk.pool, listener, items, paced, args.timeout)
    run3.cpu = meter.stop()
    lat3 = latencies_ms(run3, listener.arrived)
    http3 = accepted_ms(run3)
    print(f"  submit -> notified:  {describe(lat3)}")
    print(f"  submit -> 202:       {describe(http3)}")
    print(f"  client pacing lag max {run3.max_lag_ms:.1f} ms")
    print_failures(run3)
    print_cpu(run3.cpu, known)
    figures["phase3"] = {
        "rate": paced,
        "e2e_ms": quantiles(lat3),
        "http_ms": quantiles(http3),
        "failures": dict(run3.failures),
        "missing": run3.missing,
        "cpu_cores": run3.cpu,
    }
    return paced, lat3


def print_summary(
    args: argparse.Namespace,
    rate: float,
    floor: Any,
    ratio: float,
    cpu_ms: tuple[float, float, float],
    e2e: list[float],
    paced: float,
    lat3: list[float],
) -> None:
    """The figures beside the issue's targets for this shape, one line each. `cpu_ms`:
    service CPU ms per submission, the worker's part of it, and per no-op task."""
    sub_ms, worker_ms, floor_ms = cpu_ms
    goal = targets_for(args.db, args.broker)
    p99 = pct(lat3, 0.99)
    rows = [
        (
            "submissions/s (phase 1, end to end)",
            f"{rate:.1f}",
            f">= {goal.rate:g}",
            verdict(rate >= goal.rate),
        ),
        ("floor no-op tasks/s (phase 2)", f"{floor.rate:.1f}" if floor else "-", "", ""),
        (
            "ratio to floor",
            f"{ratio:.2f}",
            f">= {goal.floor_ratio:g}",
            verdict(ratio >= goal.floor_ratio) if floor else "-",
        ),
        ("CPU ms per submission / per no-op", f"{sub_ms:.2f}/{floor_ms:.2f}", "", ""),
        (
            "  ratio if both were CPU-bound",
            f"{floor_ms / sub_ms if sub_ms else math.nan:.2f}",
            "",
            "",
        ),
        (
            "worker CPU ms per submission",
            f"{worker_ms:.2f}",
            f"<= {goal.worker_ms:g}",
            verdict(worker_ms <= goal.worker_ms),
        ),
        ("p50 submit->notified, phase 1", f"{pct(e2e, 0.5):.1f} ms", "", ""),
        ("p95 submit->notified, phase 1", f"{pct(e2e, 0.95):.1f} ms", "", ""),
        ("p99 submit->notified, phase 1", f"{pct(e2e, 0.99):.1f} ms", "", ""),
        (f"p50 at {paced:.0f}/s (phase 3)", f"{pct(lat3, 0.5):.1f} ms", "", ""),
        (f"p95 at {paced:.0f}/s (phase 3)", f"{pct(lat3, 0.95):.1f} ms", "", ""),
        (
            f"p99 at {paced:.0f}/s (phase 3)",
            f"{p99:.1f} ms",
            f"< {goal.p99_ms:g} ms",
            verdict(p99 < goal.p99_ms),
        ),
    ]
    if args.rate is None and rate < goal.rate:
        rows.append(
            (
                f"  (half the target rate is {goal.rate / 2:g}/s; use --rate to pace there)",
                "",
                "",
                "",
            )
        )
    print("\nsummary")
    print(f"  {'figure':<42} {'measured':>12} {'target':>12}  verdict")
    for name, value, target, ok in rows:
        print(f"  {name:<42} {value:>12} {target:>12}  {ok}")
