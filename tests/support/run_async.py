"""Run a coroutine to completion from a synchronous test, whatever the thread holds.

The browser tests' session-wide Playwright (sync API) leaves its event loop marked as
running in the main thread until the session ends, so `asyncio.run` there refuses to
start for every test that comes after them. A thread of its own has no running loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`make()` builds the coroutine inside the worker thread, so none is left unawaited."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
