#!/usr/bin/env python
"""The ceiling for pipeline.py's floor ratio: the same shape with no product logic.

pipeline.py divides submissions/s by the floor (no-op tasks/s published straight from
the benchmark process). A submission can never beat the shape it travels: an HTTP POST
into uvicorn + Starlette, a thread-pool hop, a Celery publish through our Publisher, the
broker, and a task in our worker. This script runs exactly that shape with nothing else:

    POST /submit  {"otk": marker, "values": {...card values...}}
      -> minimal Starlette endpoint (uvicorn, uvloop, httptools, as `secureforms api`)
      -> run_in_threadpool(Publisher.publish_noop(marker))          (same hop as the api)
      -> broker -> `secureforms worker` runs `secureforms.noop` (INCR sf:bench:<marker>)

Phase 1 drives N posts from C keep-alive connections (closed loop) until the worker has
counted N; phase 2 is pipeline.py's floor, unchanged, in the same run. The ratio of the
two is the best pipeline.py's ratio could be on this machine with these libraries.

    .venv/bin/python benchmarks/skeleton.py --db sqlite --broker redis --n 2000
    .venv/bin/python benchmarks/skeleton.py --middleware   # with the api's two middlewares
    .venv/bin/python benchmarks/skeleton.py --py-spy /tmp/skel  # where the CPU goes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from time import perf_counter as now
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import project_paths  # noqa: E402  (puts the project root and tests/ on sys.path)
import redis  # noqa: E402
from cpu_meter import CpuMeter  # noqa: E402
from figures import SERVICE_ROLES, cpu_cost, describe, pct, print_cost, print_cpu  # noqa: E402
from keepalive_http import HttpPool  # noqa: E402
from load_phases import floor_phase  # noqa: E402
from service_under_test import (  # noqa: E402
    Service,
    producer_settings,
    raise_interrupt,
    wait_http,
    wait_worker_ready,
)
from stack_profiler import Profiler  # noqa: E402
from store_counters import StoreCounters  # noqa: E402
from support.flow import card_values  # noqa: E402
from support.stack import Proc, Stack, free_port  # noqa: E402

SUBMIT = "/submit"


# -- the skeleton api (runs in its own process: `skeleton.py --serve PORT`) ------------------


def serve(port: int, hop: bool, middleware: bool) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from configs import load_settings
    from producers import Publisher
    from vault import load_keyring

    settings = load_settings()
    publisher = Publisher(
        settings, load_keyring(settings.keyring_path, allow_generate=settings.allows_dev_defaults)
    )

    async def submit(request: Request) -> Response:
        body = json.loads(await request.body())
        if hop:
            await run_in_threadpool(publisher.publish_noop, body["otk"])
        else:
            publisher.publish_noop(body["otk"])
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    stack: list[Middleware] = []
    if middleware:
        from api.middleware import AccessLog, SecurityHeaders

        stack = [Middleware(SecurityHeaders), Middleware(AccessLog)]
    app = Starlette(
        routes=[Route(SUBMIT, submit, methods=["POST"]), Route("/healthz", healthz)],
        middleware=stack,
    )
    if middleware:
        from configs.logging import configure_logging

        configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


# -- the run ---------------------------------------------------------------------------------


def start(args: argparse.Namespace) -> Service:
    data_dir = Path(tempfile.mkdtemp(prefix=f"sf-skeleton-{args.db}-{args.broker}-"))
    overrides = {"SECUREFORMS_WORKER_PREFETCH": str(args.worker_prefetch)}
    if args.log_level:
        overrides["SECUREFORMS_LOG_LEVEL"] = args.log_level
    stack = Stack.build(args.db, args.broker, data_dir, **overrides)
    service = Service([], stack.site_id, stack.admin, dict(stack.env), stack, data_dir)
    try:
        port = free_port()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
        cmd += [] if args.hop else ["--no-hop"]
        cmd += ["--middleware"] if args.middleware else []
        log_path = data_dir / "skeleton-api.log"
        with log_path.open("wb") as fh:
            popen = subprocess.Popen(
                cmd,
                env=stack.process_env(),
                cwd=project_paths.ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        api = Proc("api", popen, log_path)
        stack.procs["api"] = api
        url = f"http://127.0.0.1:{port}"
        wait_http(url, api)
        service.base_urls.append(url)
        argv = ["worker", "--concurrency", str(args.workers_concurrency)]
        argv += ["--loglevel", args.worker_loglevel]
        if args.worker_pool:
            argv += ["--pool", args.worker_pool]
        worker = stack._spawn("worker", *argv)
        service.sessions = {"api": {popen.pid}, "worker": {worker.popen.pid}}
        wait_worker_ready(service, worker)
    except BaseException:
        service.stop(args.keep)
        raise
    return service


async def drive(
    pool: HttpPool, count: int, concurrency: int, marker: str
) -> tuple[list[float], int]:
    """`count` posts from `concurrency` lanes; answers each one's seconds to its 202."""
    tickets = iter(range(count))
    took: list[float] = []
    failures = 0
    body = {"otk": marker, "values": card_values()}

    async def lane() -> None:
        nonlocal failures
        for _ in tickets:
            t0 = now()
            status, _ = await pool.request("POST", SUBMIT, body)
            took.append(now() - t0)
            if status != 202:
                failures += 1

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return took, failures


def wait_count(r: redis.Redis, key: str, count: int, timeout: float = 300) -> float:
    deadline = time.time() + timeout
    while int(r.get(key) or 0) < count and time.time() < deadline:
        time.sleep(0.002)
    return now()


def phase1(args: argparse.Namespace, service: Service) -> dict[str, Any]:
    return asyncio.run(_phase1(args, service))


async def _phase1(args: argparse.Namespace, service: Service) -> dict[str, Any]:
    settings, _ = producer_settings(service.env)
    r = redis.Redis.from_url(settings.redis_url)
    pool = HttpPool(service.base_urls)
    try:
        if args.warmup:
            warm = f"warm-{uuid.uuid4().hex[:8]}"
            await drive(pool, args.warmup, args.concurrency, warm)
            await asyncio.to_thread(wait_count, r, f"sf:bench:{warm}", args.warmup)
        marker = f"skel-{uuid.uuid4().hex[:8]}"
        counters = StoreCounters(service)
        before = counters.snapshot()
        profiler = Profiler(args.py_spy, service)
        meter = CpuMeter(service)
        t0 = now()
        took, failures = await drive(pool, args.n, args.concurrency, marker)
        accepted = now()
        done = await asyncio.to_thread(wait_count, r, f"sf:bench:{marker}", args.n)
        cpu = meter.stop()
        profiler.stop()
        after = counters.snapshot()
        counters.close()
        count = int(r.get(f"sf:bench:{marker}") or 0)
    finally:
        pool.close()
        r.close()
    rate = count / (done - t0)
    ingest = args.n / (accepted - t0)
    print(f"  skeleton posts/s end to end: {rate:.1f}   (api accepted at {ingest:.1f}/s;")
    print(f"  counted {count}/{args.n}, failures {failures})")
    print(f"  post -> 202: {describe([s * 1000 for s in took])}")
    print_cpu(cpu)
    cost = cpu_cost(cpu, args.n, SERVICE_ROLES)
    total = print_cost("post (service side)", cost)
    per = StoreCounters.per(before, after, args.n)
    per, by_name = StoreCounters.split(per)
    print("  per post: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
    print("    redis by command: " + ", ".join(f"{k} {v:.2f}" for k, v in by_name.items()))
    return {"rate": rate, "cpu_ms": total, "cost": cost, "p99_ms": pct(took, 0.99) * 1000}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=2000, help="posts in phase 1, tasks in phase 2")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    p.add_argument("--workers-concurrency", type=int, default=2)
    p.add_argument("--worker-pool", choices=["prefork", "threads", "solo"], default=None)
    p.add_argument("--worker-loglevel", default="INFO")
    p.add_argument("--worker-prefetch", type=int, default=8)
    p.add_argument("--log-level", default=None, help="SECUREFORMS_LOG_LEVEL (test: INFO)")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument(
        "--no-hop",
        dest="hop",
        action="store_false",
        help="publish on the event loop instead of through the thread pool",
    )
    p.add_argument(
        "--middleware", action="store_true", help="with the api's SecurityHeaders and AccessLog"
    )
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--py-spy", type=Path, default=None, metavar="DIR")
    p.add_argument("--keep", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.hop, args.middleware)
        return 0
    signal.signal(signal.SIGTERM, raise_interrupt)
    print(f"starting skeleton api + worker ({args.db}, {args.broker}) ...", flush=True)
    service = start(args)
    try:
        shape = "thread-pool hop" if args.hop else "no hop"
        extra = ", api middleware" if args.middleware else ""
        print(f"phase 1: {args.n} posts ({shape}{extra}), {args.concurrency} connections")
        one = phase1(args, service)
        if args.skip_floor:
            return 0
        print(f"phase 2 (floor): {args.n} no-op tasks from {args.concurrency} threads")
        floor = floor_phase(service, args.n, args.concurrency)
        print(f"  floor: {floor.rate:.1f} tasks/s (counted {floor.count}/{args.n})")
        print_cpu(floor.cpu)
        roles = ("bench client", "worker", "redis", "rabbitmq")
        floor_cost = cpu_cost(floor.cpu, args.n, roles)
        floor_ms = print_cost("no-op task (publisher + broker + worker)", floor_cost)
        print("\nsummary (the ceiling of pipeline.py's ratio on this machine)")
        print(f"  skeleton posts/s            {one['rate']:8.1f}")
        print(f"  floor no-op tasks/s         {floor.rate:8.1f}")
        print(f"  ratio (ceiling)             {one['rate'] / floor.rate:8.2f}")
        print(f"  CPU ms per post / no-op     {one['cpu_ms']:.2f}/{floor_ms:.2f}")
        print(f"  ratio if both CPU-bound     {floor_ms / one['cpu_ms']:8.2f}")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if args.keep and service.data_dir:
            print(f"kept {service.data_dir}")
        service.stop(args.keep)


if __name__ == "__main__":
    sys.exit(main())
