"""The agents' side: one SSE stream per agent, noting when each submission is notified."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from time import perf_counter as now

import httpx


class Listener:
    """Reads every agent's event stream; notes when each `secure_form.submitted` arrives."""

    def __init__(self, base_url: str, agents: list[dict[str, str]]) -> None:
        self.base_url, self.agents = base_url, agents
        self.arrived: dict[str, float] = {}
        self._pending: set[str] = set()
        self._done = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen(h)) for h in self.agents]

    def expect(self, request_ids: Iterable[str]) -> None:
        self._pending = {r for r in request_ids if r not in self.arrived}
        self._done.clear()
        if not self._pending:
            self._done.set()

    async def wait(self, timeout: float) -> int:
        """Waits for every expected event; answers how many never came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)
        return len(self._pending)

    def _note(self, request_id: str, at: float) -> None:
        self.arrived.setdefault(request_id, at)
        self._pending.discard(request_id)
        if not self._pending:
            self._done.set()

    async def _listen(self, headers: dict[str, str]) -> None:
        last = "0"
        while True:
            try:
                hdrs = {**headers, "Accept": "text/event-stream", "Last-Event-ID": last}
                async with self.client.stream("GET", "/api/v1/agent/events", headers=hdrs) as r:
                    if r.status_code != 200:
                        raise RuntimeError(f"agent events: {r.status_code}")
                    kind = ""
                    async for line in r.aiter_lines():
                        if line.startswith("id: "):
                            last = line[4:]
                        elif line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: ") and kind == "secure_form.submitted":
                            at = now()
                            self._note(json.loads(line[6:])["request_id"], at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                print(f"  (event stream dropped: {exc.__class__.__name__}; resuming)")
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()
