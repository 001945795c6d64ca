"""Visitors submitting at a steady rate while something breaks, and the counts afterwards.

A `Flow` sends one visitor's submit every `every_s` from a background thread (each visitor
opened a form beforehand, so only the submit meets the outage), then retries every visitor
who was refused, with the key they hold, as a real one would, and watches the agent's
events for the notifications. `Flow.row` counts what happened into a `Row`; the rows of a
run are printed as one table at the end of pytest (tests/integration/conftest.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from integration.test_no_loss import submitted_events, visitor_values, wait_until

from support.flow import Desk, Sent
from support.stack import Proc, Stack

SETTLED = (202, 410)  # accepted now, or an earlier try of the same key had landed


@dataclass
class Row:
    outage: str
    refused: int  # 503 answers, first tries and retries
    other_5xx: int  # any other 5xx, or no answer at all: must be 0
    accepted: int  # visitors who heard 202
    stored: int  # visitors whose submission is in the vault
    notified: int  # visitors whose agent got the notification
    lost: int  # visitors not both stored and notified: must be 0
    recover_s: float | None
    note: str = ""


RESULTS: list[Row] = []
HEADER = ("outage", "503", "5xx", "accepted", "stored", "notified", "lost", "recover s")


def table(rows: list[Row]) -> list[str]:
    cells = [
        (
            r.outage,
            str(r.refused),
            str(r.other_5xx),
            str(r.accepted),
            str(r.stored),
            str(r.notified),
            str(r.lost),
            "-" if r.recover_s is None else f"{r.recover_s:.1f}",
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [HEADER, *cells]) for i in range(len(HEADER))]

    def line(c: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |"

    out = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(c) for c in cells]
    out += [f"  {r.outage}: {r.note}" for r in rows if r.note]
    return out


def _submit(desk: Desk, otk: str, i: int) -> int:
    """The status code, or 0 when the api did not answer at all."""
    try:
        return desk.submit(otk, visitor_values(i)).status_code
    except httpx.HTTPError:
        return 0


@dataclass
class Flow:
    desk: Desk
    forms: list[tuple[Sent, str]]
    every_s: float = 0.2
    # per visitor: every status heard, and when the first 202 came
    statuses: list[list[int]] = field(default_factory=list)
    accepted_at: dict[int, float] = field(default_factory=dict)
    notified_at: dict[str, float] = field(default_factory=dict)
    _sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _firsts: list[Future[None]] = field(default_factory=list)
    _stop_watching: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(16, thread_name_prefix="visitor")
    )

    def __post_init__(self) -> None:
        self.statuses = [[] for _ in self.forms]

    # -- running -----------------------------------------------------------------------
    def start(self) -> Flow:
        for target in (self._send_all, self._watch):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _one(self, i: int) -> None:
        status = _submit(self.desk, self.forms[i][1], i)
        with self._lock:
            self.statuses[i].append(status)
            if status == 202:
                self.accepted_at.setdefault(i, time.monotonic())

    def _send_all(self) -> None:
        started = time.monotonic()
        for i in range(len(self.forms)):
            # A steady rate: the schedule, not the answers, says when the next one goes.
            time.sleep(max(0.0, started + i * self.every_s - time.monotonic()))
            self._firsts.append(self._pool.submit(self._one, i))
            with self._lock:
                self._sent = i + 1

    def _watch(self) -> None:
        wanted = {sent.request_id for sent, _ in self.forms}
        while not self._stop_watching.wait(0.25):
            try:
                events = submitted_events(self.desk)
            except (httpx.HTTPError, AssertionError):
                continue  # the app Redis may be the thing that is down
            now = time.monotonic()
            for e in events:
                if e["request_id"] in wanted:
                    self.notified_at.setdefault(e["request_id"], now)

    def sent(self) -> int:
        with self._lock:
            return self._sent

    def wait_sent(self, n: int) -> None:
        wait_until(f"{n} submits sent", lambda: self.sent() >= n, timeout=120, every=0.05)

    def wait_heard(self, status: int, timeout: float = 60) -> None:
        def heard() -> bool:
            with self._lock:
                return any(status in s for s in self.statuses)

        wait_until(f"a {status} answer", heard, timeout=timeout, every=0.05)

    def finish(self, retry_for_s: float = 90) -> None:
        """Every first try answered, then each visitor without an answer that settles it
        tries again with the same key until one does (or the time is up)."""
        self._threads[0].join()
        for f in self._firsts:
            f.result()
        deadline = time.monotonic() + retry_for_s
        while (todo := self._unsettled()) and time.monotonic() < deadline:
            list(self._pool.map(self._one, todo))
            if self._unsettled():
                time.sleep(0.5)

    def _unsettled(self) -> list[int]:
        return [i for i, s in enumerate(self.statuses) if not s or s[-1] not in SETTLED]

    def recovered_s(self, since: float, timeout: float = 30) -> float:
        """Seconds from `since` until a submission accepted after it was notified: the
        path from visitor to agent works again, the worker included."""

        def through() -> bool:
            after = {self.forms[i][0].request_id for i, t in self.accepted_at.items() if t >= since}
            return any(rid in self.notified_at for rid in after)

        wait_until("a submission accepted after the repair notified", through, timeout, 0.1)
        after = {self.forms[i][0].request_id for i, t in self.accepted_at.items() if t >= since}
        return min(self.notified_at[rid] for rid in after if rid in self.notified_at) - since

    def wait_notified(self, timeout: float) -> None:
        """Until every visitor is notified, or the time is up (the row then counts losses)."""
        with contextlib.suppress(AssertionError):
            wait_until(
                "every visitor notified",
                lambda: len(self.notified_at) >= len(self.forms),
                timeout,
                0.25,
            )

    def close(self) -> None:
        self._stop_watching.set()
        for thread in self._threads:
            thread.join(30)
        self._pool.shutdown(wait=True)

    # -- counting ----------------------------------------------------------------------
    def row(self, outage: str, stack: Stack, recover_s: float | None, note: str = "") -> Row:
        heard = Counter(s for statuses in self.statuses for s in statuses)
        request_ids = [sent.request_id for sent, _ in self.forms]
        stored = stored_requests(stack, request_ids)
        notified = set(self.notified_at)
        unsettled = len(self._unsettled())
        extra = f"{unsettled} never settled; " if unsettled else ""
        row = Row(
            outage=outage,
            refused=heard[503],
            other_5xx=sum(n for s, n in heard.items() if s >= 500 and s != 503) + heard[0],
            accepted=len(self.accepted_at),
            stored=len(stored),
            notified=len(notified),
            lost=sum(1 for rid in request_ids if rid not in stored or rid not in notified),
            recover_s=recover_s,
            note=extra + note,
        )
        RESULTS.append(row)
        return row


def stored_requests(stack: Stack, request_ids: list[str]) -> set[str]:
    engine = stack.engines()["vault"]
    try:
        with engine.connect() as conn:
            query = sa.text(
                "SELECT request_id FROM vault_submissions WHERE request_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True))
            rows = conn.execute(query, {"ids": request_ids}).scalars()
            return set(rows)
    finally:
        engine.dispose()


class Supervisor:
    """Starts a new worker when the current one dies, as systemd or compose would."""

    def __init__(self, stack: Stack, current: str = "worker") -> None:
        self.stack = stack
        self.current = current
        self.restarts = 0
        self.paused = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def worker(self) -> Proc:
        return self.stack.procs[self.current]

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            if self.paused or self.worker().alive():
                continue
            self.restarts += 1
            self.current = f"worker-r{self.restarts}"
            self.stack.start_worker(name=self.current)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(90)
