"""A real HTTP receiver on a loopback port, for tests of outbound calls (a payment gateway,
webhooks).

It records each POST (headers and JSON body in `seen`, the raw bytes in `raw`, which a
signature is computed over) and answers what the test sets. `pause()` stops listening
(callers get "connection refused", as from a receiver that is down) and `resume()` listens
again on the same port; clearing `answering` keeps requests waiting (a receiver that hangs).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    url: str
    seen: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    answer: Any = field(default_factory=dict)
    # Cleared, each POST is recorded and then held unanswered until it is set again (a
    # receiver that hangs); `held` counts the POSTs waiting.
    answering: threading.Event = field(default_factory=threading.Event)
    held: int = 0
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _handler: type[BaseHTTPRequestHandler] | None = field(default=None, repr=False)
    _port: int = 0

    def _serve(self) -> None:
        assert self._handler is not None
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler)
        self._port = int(server.server_address[1])
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def pause(self) -> None:
        """Stop listening: a caller now gets "connection refused"."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def resume(self) -> None:
        if self._server is None:
            self._serve()


@contextmanager
def running_receiver(path: str = "/") -> Iterator[Receiver]:
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = state[0]
            size = int(self.headers["Content-Length"])
            body = self.rfile.read(size)
            receiver.raw.append((dict(self.headers), body))
            receiver.seen.append((dict(self.headers), json.loads(body)))
            if not receiver.answering.is_set():
                receiver.held += 1
                receiver.answering.wait(120)
                receiver.held -= 1
            raw = json.dumps(receiver.answer).encode()
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    receiver = Receiver("", _handler=Handler)
    receiver.answering.set()
    receiver._serve()
    receiver.url = f"http://127.0.0.1:{receiver._port}{path}"
    state.append(receiver)
    try:
        yield receiver
    finally:
        receiver.answering.set()
        receiver.pause()
