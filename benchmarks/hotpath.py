#!/usr/bin/env python
"""CPU of the product's own per-submission work, in-process, without HTTP or Celery.

pipeline.py's rates swing with whatever else shares the machine; this measures what the
product code itself costs per submission, in one thread, so two versions of the code can
be compared on a busy box. Setup goes through a real api (conversations, sends, opens);
then, with the api stopped, it times in this process:

  api part:    core.submit.submit_answers publishing through Publisher.publish_submission
               (the submit handler's body: OTK peek/redeem, SQL, validation, seal, publish)
  worker part: open_event + accept_submission (vault insert, off-record put, mark
               submitted with audit and transcript, retrieve key, notification), on
               half the submissions one at a time, on the other half in batches of
               --batch (accept_submissions, as the worker takes them)

and prints CPU ms, SQL statements and Redis commands per submission for each part.
HTTP parsing, the thread-pool hop and Celery's own per-task work are not in these
figures: skeleton.py measures that shape.

    .venv/bin/python benchmarks/hotpath.py --n 1000
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import project_paths  # noqa: E402, F401  (puts the project root and tests/ on sys.path)
import redis  # noqa: E402
from form_setup import Ready, make_desk, prepare  # noqa: E402
from keepalive_http import HttpPool  # noqa: E402
from service_under_test import Service, producer_settings  # noqa: E402
from sqlalchemy import event  # noqa: E402
from support.flow import card_values  # noqa: E402
from support.stack import Stack  # noqa: E402


def setup(args: argparse.Namespace) -> tuple[Stack, Service, list[Ready]]:
    data_dir = Path(tempfile.mkdtemp(prefix="sf-hotpath-"))
    overrides = {"SECUREFORMS_OTK_RATE_PER_MINUTE": "1000000"}
    if args.log_level:
        overrides["SECUREFORMS_LOG_LEVEL"] = args.log_level
    stack = Stack.build(args.db, "redis", data_dir, **overrides)
    service = Service(
        [stack.base_url], stack.site_id, stack.admin, dict(stack.env), stack, data_dir
    )
    try:
        stack.start_api()

        async def make() -> list[Ready]:
            pool = HttpPool(service.base_urls)
            try:
                desk = await make_desk(pool, service, 4)
                return await prepare(desk, args.n + args.warmup)
            finally:
                pool.close()

        items = asyncio.run(make())
        stack.kill("api")
    except BaseException:
        service.stop(keep=False)
        raise
    return stack, service, items


class SqlCounter:
    def __init__(self, engines: list[Any]) -> None:
        self.count = 0
        for engine in {id(e): e for e in engines}.values():
            event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *_: Any) -> None:
        self.count += 1


def timed(
    label: str,
    items: list[Any],
    step: Callable[[Any], Any],
    sql: SqlCounter,
    r: redis.Redis,
    per_item: int = 1,
) -> list[Any]:
    """Runs `step` over `items` in chunks of 50 submissions (`per_item` in each item);
    other load on the machine only ever adds CPU time, so the quietest chunks (min, and
    the median) say more than the mean."""
    out: list[Any] = []
    chunks: list[float] = []
    sql0, cmds0 = sql.count, int(r.info("stats")["total_commands_processed"])
    wall0 = time.perf_counter()
    per_chunk = max(1, 50 // per_item)
    for start in range(0, len(items), per_chunk):
        chunk = items[start : start + per_chunk]
        cpu0 = time.process_time()
        out.extend(step(item) for item in chunk)
        chunks.append((time.process_time() - cpu0) / (len(chunk) * per_item))
    wall = time.perf_counter() - wall0
    cmds = int(r.info("stats")["total_commands_processed"]) - cmds0 - 1  # the INFO itself
    n = len(items) * per_item
    chunks.sort()
    print(
        f"  {label:<8} CPU ms min {1000 * chunks[0]:6.3f}"
        f"  median {1000 * chunks[len(chunks) // 2]:6.3f}"
        f"  wall {1000 * wall / n:6.3f}  SQL {(sql.count - sql0) / n:4.1f}"
        f"  Redis commands {cmds / n:4.1f}  per submission"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--log-level", default="WARNING", help="of this process's loggers")
    p.add_argument("--profile", type=Path, default=None, help="cProfile both parts into DIR")
    p.add_argument(
        "--batch",
        type=int,
        default=50,
        help="the worker part also stores batches of this many (accept_submissions)",
    )
    args = p.parse_args(argv)

    import logging

    logging.basicConfig(level=args.log_level)
    print(f"setup: a service ({args.db}) and {args.n + args.warmup} opened forms ...", flush=True)
    stack, service, items = setup(args)
    try:
        from core.runtime import Runtime
        from core.submissions import accept_submission, accept_submissions
        from core.submit import submit_answers
        from producers import Publisher, open_event, seal_event
        from vault import Submission

        settings, _ = producer_settings(service.env)
        rt = Runtime.from_settings(settings)
        publisher = Publisher(settings, rt.keyring)
        broker = redis.Redis.from_url(settings.broker_url)
        r = redis.Redis.from_url(settings.redis_url)
        sql = SqlCounter([rt.app_engine, rt.vault.engine, rt.vault.data_keys.engine])
        values = card_values()
        published: list[Submission] = []

        def publish(submission: Submission) -> bool:  # the api's Services.publish, kept
            publisher.publish_submission(submission)
            published.append(submission)
            return True

        def api_part(item: Ready) -> Submission:
            submit_answers(rt, publish, item.submit_otk, dict(values))
            return published.pop()

        def worker_part(sealed: tuple[str, str]) -> bool:
            submission_id, blob = sealed
            return accept_submission(rt, open_event(rt.keyring, submission_id, blob))

        def batch_part(batch: list[tuple[str, str]]) -> int:
            opened = [open_event(rt.keyring, sid, blob) for sid, blob in batch]
            return len(accept_submissions(rt, opened))

        warm, timed_items = items[: args.warmup], items[args.warmup :]
        for item in warm:
            worker_part(_sealed(rt, seal_event, api_part(item)))
        broker.flushdb()
        profile = None
        if args.profile:
            import cProfile

            args.profile.mkdir(parents=True, exist_ok=True)
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
        print(f"timed: {len(timed_items)} submissions, one thread")
        half = len(timed_items) // 2
        events = timed("api", timed_items, api_part, sql, r)
        sealed = [_sealed(rt, seal_event, e) for e in events]
        delivered = timed("worker", sealed[:half], worker_part, sql, r)
        b = max(1, args.batch)
        batches = [sealed[i : i + b] for i in range(half, len(sealed) - b + 1, b)]
        stored = timed(f"batch {b}", batches, batch_part, sql, r, per_item=b)
        delivered += [True] * sum(stored)
        if profile is not None:
            profile.disable()
            profile.dump_stats(str(args.profile / "hotpath.prof"))
            print(f"  cProfile stats in {args.profile / 'hotpath.prof'}")
        print(f"  delivered {sum(delivered)}/{len(delivered)}")
        broker.flushdb()
        publisher.close()
        rt.close()
    finally:
        service.stop(keep=False)
        shutil.rmtree(stack.data_dir, ignore_errors=True)
    return 0


def _sealed(rt: Any, seal: Callable[..., str], submission: Any) -> tuple[str, str]:
    return submission.submission_id, seal(rt.keyring, submission)


if __name__ == "__main__":
    sys.exit(main())
