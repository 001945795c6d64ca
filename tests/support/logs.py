"""Reading a stack's log lines as events: the test environment writes JSON lines
(`log_format = "json"`), one object a line; anything else in a log file (Celery's start-up
banner, a crash's last words) is skipped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.stack import Stack


def events_in(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


def events_of(stack: Stack, process: str | None = None) -> list[dict[str, Any]]:
    """The events in the stack's log files, or only those of one process (its files are
    named `<process>-<n>.log`)."""
    pattern = f"{process}-*.log" if process else "*.log"
    paths: list[Path] = sorted(stack.data_dir.glob(pattern))
    return [e for p in paths for e in events_in(p.read_text(errors="replace"))]


def matching(events: list[dict[str, Any]], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == event and _has(e, fields)]


def _has(event: dict[str, Any], fields: dict[str, Any]) -> bool:
    return all(event.get(k) == v for k, v in fields.items())


def wait_for_event(
    stack: Stack, event: str, process: str | None = None, timeout: float = 30, **fields: Any
) -> dict[str, Any]:
    """The first event of that name with those fields, once a process has written it."""
    return wait_for(
        stack,
        lambda e: e["event"] == event and _has(e, fields),
        f"{event!r} with {fields}",
        process,
        timeout,
    )


def wait_for(
    stack: Stack,
    check: Callable[[dict[str, Any]], bool],
    what: str,
    process: str | None = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """The first event `check` accepts, once a process has written it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in events_of(stack, process) if check(e)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no log event {what} within {timeout} s")
        time.sleep(0.1)
