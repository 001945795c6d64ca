"""The service a benchmark drives: started here from the `secureforms` CLI against a
throw-away data dir (tests/support/stack.py), or one already running (--url)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import project_paths  # noqa: F401  (before support.*)
import redis
from support.stack import Stack, free_port


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


def wait_http(url: str, proc: Any, seconds: float = 30) -> None:
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
        "SECUREFORMS_WORKER_BATCH_SIZE": str(getattr(args, "batch_size", 50)),
        "SECUREFORMS_WORKER_BATCH_WAIT_MS": str(getattr(args, "batch_wait_ms", 5)),
        "SECUREFORMS_SUBMIT_GROUP_MAX": str(getattr(args, "group_max", 50)),
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
            wait_http(url, proc)
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


def print_errors(stack: Stack, lines: int = 60) -> None:
    """The service's own account of a failure, before its logs go with the data dir."""
    for path in sorted(stack.data_dir.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()
        # JSON lines (log_format) say `"level": "error"`; readable ones say "[error".
        marks = [
            i
            for i, line in enumerate(text)
            if "Traceback" in line or '"level": "error"' in line or "[error" in line
        ]
        if marks:
            print(f"--- {path.name} (from its first error)", file=sys.stderr)
            print("\n".join(text[marks[0] : marks[0] + lines]), file=sys.stderr)


def raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt
