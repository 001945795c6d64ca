"""A small keep-alive HTTP/1.1 client for the load generator.

httpx costs around a millisecond of CPU per request; on a 2-core machine that shares its
cores with the service, the load generator must stay cheap or it measures itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from time import perf_counter as now
from typing import Any
from urllib.parse import urlsplit


class HttpConn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0
        self.reusable = True

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length: int | None = None
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and "close" in value.lower():
                self.reusable = False
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            data = b"".join(parts)
        else:
            data = await self.reader.readexactly(length or 0)
        self.last_used = now()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None


class HttpPool:
    """Keep-alive connections, spread round-robin over one or more api processes."""

    MAX_IDLE_S = 2.0  # below uvicorn's 5 s keep-alive, so a reused socket is never stale

    def __init__(self, base_urls: list[str]) -> None:
        targets = []
        for url in base_urls:
            parts = urlsplit(url)
            targets.append((parts.hostname or "127.0.0.1", parts.port or 80))
        self._targets = itertools.cycle(targets)
        self._idle: list[HttpConn] = []

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = None
        while self._idle:
            candidate = self._idle.pop()
            if now() - candidate.last_used < self.MAX_IDLE_S:
                conn = candidate
                break
            candidate.close()
        if conn is None:
            conn = HttpConn(*next(self._targets))
        body = b"" if payload is None else json.dumps(payload).encode()
        try:
            status, data = await conn.request(method, path, body, headers or {})
        except BaseException:
            conn.close()
            raise
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()
        return status, data

    async def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        expect: int = 200,
    ) -> Any:
        status, data = await self.request(method, path, payload, headers)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
