"""Optional sampling profiler: py-spy on the api and the worker, and where their time went."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from time import perf_counter as now

from service_under_test import Service


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
