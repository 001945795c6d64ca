"""A private `redis-server` on a port of its own, for tests that take the broker away.

The shared Redis on 6379 holds every other stack's keys, so a test that takes its broker
away runs one of its own: no persistence, bound to 127.0.0.1, killed and started again on
the same port while the api and the worker keep their URLs.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from configs.celery import TOKENIZE_GROUP_TASK
from support.stack import free_port


class PrivateRedis:
    persistence: tuple[str, ...] = ("--save", "", "--appendonly", "no")

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15) -> None:
        if self.alive():
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"redis-{self.port}-{self._starts}.log"
        self._starts += 1
        with log.open("wb") as fh:
            self._proc = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    *self.persistence,
                    "--dir",
                    str(self.workdir),
                    "--daemonize",
                    "no",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                raise AssertionError(f"redis-server died:\n{log.read_text()[-2000:]}")
            client = self.client()
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pass
            finally:
                client.close()
            time.sleep(0.05)
        raise AssertionError(f"redis-server on port {self.port} did not answer in {timeout} s")

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, but nothing answers."""
        assert self._proc is not None and self.alive()
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._proc is not None and self.alive():
            self._proc.send_signal(signal.SIGCONT)

    def shutdown(self, timeout: float = 30) -> None:
        """SHUTDOWN, as an operator restarting it: the append-only file is flushed first."""
        assert self._proc is not None and self.alive()
        client = self.client()
        try:
            client.shutdown()
        except redis.ConnectionError:
            pass  # the server closed the connection on its way out, as it should
        finally:
            client.close()
        self._proc.wait(timeout)

    def stop(self, timeout: float = 10) -> None:
        """SIGKILL, as in a crash: whatever the broker held in memory is gone."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout)


class AofRedis(PrivateRedis):
    """A private broker as a careful operator runs it: `appendonly yes`, `appendfsync
    everysec`, so a SIGKILL (`stop`) keeps what the append-only file holds and `start`
    loads it again (answering LOADING until then)."""

    persistence = ("--save", "", "--appendonly", "yes", "--appendfsync", "everysec")

    def pushed_submission_ids(self, queue: str) -> set[str]:
        """The submissions the append-only file holds as pushed to `queue` in Celery
        messages: what the broker kept, as opposed to what it acknowledged. A message of
        one submission is named by its id; a group commit's message holds several."""
        ids: set[str] = set()
        for path in sorted((self.workdir / "appendonlydir").glob("*.aof")):
            for command in _resp_commands(path.read_bytes()):
                if command[0].upper() in (b"LPUSH", b"RPUSH") and command[1] == queue.encode():
                    for item in command[2:]:
                        ids.update(_submission_ids(json.loads(item)))
        return ids


def _submission_ids(message: dict[str, Any]) -> list[str]:
    if message["headers"]["task"] != TOKENIZE_GROUP_TASK:
        return [message["headers"]["id"]]
    [group], _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return [submission_id for submission_id, _sealed, _request_id in group]


def _resp_commands(data: bytes) -> list[list[bytes]]:
    """The commands of an append-only file (RESP arrays of bulk strings); a command cut
    short by a kill at the end is left out, as Redis leaves it out when it loads."""
    commands: list[list[bytes]] = []
    i = 0
    try:
        while i < len(data):
            if data[i : i + 1] != b"*":  # e.g. the "#TS:" annotations
                i = data.index(b"\n", i) + 1
                continue
            end = data.index(b"\r\n", i)
            args: list[bytes] = []
            count, i = int(data[i + 1 : end]), end + 2
            for _ in range(count):
                end = data.index(b"\r\n", i)
                size, i = int(data[i + 1 : end]), end + 2
                if i + size > len(data):
                    raise ValueError("cut short")
                args.append(data[i : i + size])
                i += size + 2
            commands.append(args)
    except ValueError:
        pass
    return commands
