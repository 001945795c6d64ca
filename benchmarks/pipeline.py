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

With --soak SECONDS, phases 2 and 3 give way to a soak (soak.py): open-loop submissions
at --rate for SECONDS, with the memory each role holds every 30 s.

It prints figures and the issue's targets beside them; it never asserts on timing.

    .venv/bin/python benchmarks/pipeline.py --db sqlite --broker redis
    .venv/bin/python benchmarks/pipeline.py --db postgres --broker rabbitmq
    .venv/bin/python benchmarks/pipeline.py --n 200 --soak 600 --rate 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

import project_paths  # noqa: F401  (puts the project root and tests/ on sys.path)
from pipeline_phases import bench
from service_under_test import (
    Service,
    external_service,
    print_errors,
    raise_interrupt,
    start_service,
)


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
        f"prefetch {args.worker_prefetch}, loglevel {args.worker_loglevel}, "
        f"batch {args.batch_size} / {args.batch_wait_ms} ms, group commit {args.group_max}",
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
    p.add_argument("--batch-size", type=int, default=50, help="worker_batch_size (1: no batching)")
    p.add_argument("--batch-wait-ms", type=int, default=5, help="worker_batch_wait_ms")
    p.add_argument(
        "--group-max", type=int, default=50, help="submit_group_max (1: no group commit)"
    )
    p.add_argument(
        "--log-level", default=None, help="SECUREFORMS_LOG_LEVEL of api and worker (test: INFO)"
    )
    p.add_argument("--api-procs", type=int, default=1, help="api processes (separate ports)")
    p.add_argument("--agents", type=int, default=8, help="agents (one event stream each)")
    p.add_argument(
        "--rate", type=float, default=None, help="phase 3 pace (default: half of phase 1)"
    )
    p.add_argument("--latency-n", type=int, default=1000, help="submissions in phase 3")
    p.add_argument(
        "--soak",
        type=float,
        default=None,
        metavar="SECONDS",
        help="after phase 1, submit at --rate (default: half of phase 1) for SECONDS,\n"
        "printing memory by role every 30 s (in place of phases 2 and 3)",
    )
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_interrupt)
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
