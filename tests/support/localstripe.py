"""A real localstripe (a stateful Stripe emulator) on a free loopback port, for tests.

Started as its own process through its aiohttp app, so it listens on 127.0.0.1 only (its
command binds every interface) and keeps its store in memory (its command pickles every
change, card numbers included, to /tmp/localstripe.pickle).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

_RUN = """
import sys
from aiohttp import web
from localstripe import resources, server
resources.store.dump_to_disk = lambda: None

async def ids(request):
    # Every object of a kind: Stripe's API lists payment methods only per customer.
    prefix = request.match_info["kind"] + ":"
    found = [k[len(prefix):] for k in resources.store if k.startswith(prefix)]
    return web.json_response(sorted(found))

server.app.router.add_get("/_test/ids/{kind}", ids)
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""
KEY = "sk_test_localstripe"


@dataclass(frozen=True)
class Card:
    """A card as a connector is handed it (connectors.CardInput)."""

    number: str = "4242424242424242"
    exp_month: int = 12
    exp_year: int = 2031
    cvc: str | None = "123"
    values: Mapping[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalStripe:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> Any:
        """An object as the emulator holds it (GET /v1/...)."""
        answer = httpx.get(f"{self.url}{path}", auth=(KEY, ""), timeout=5)
        answer.raise_for_status()
        return answer.json()

    def ids(self, kind: str) -> list[str]:
        """The ids of every object of a kind ("payment_method", "payment_intent")."""
        answer = httpx.get(f"{self.url}/_test/ids/{kind}", auth=(KEY, ""), timeout=5)
        answer.raise_for_status()
        return list(answer.json())


@contextmanager
def running_localstripe() -> Iterator[LocalStripe]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stripe = LocalStripe(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{stripe.url}/v1/balance", auth=(KEY, ""), timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        yield stripe
    finally:
        proc.terminate()
        proc.wait(timeout=10)
