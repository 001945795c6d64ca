"""A Chatwoot of the tests' own: a real HTTP server on a loopback port that follows
Chatwoot's published API for exactly the call the connector makes, and signs webhooks
as Chatwoot does.

    POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages
         header api_access_token; JSON {"content", "message_type", "private", ...}
         200 the message (`message_type` as Chatwoot's integer: 1 outgoing)
         401 {"error": "Invalid Access Token"}; 404 {"error": "Resource could not be
         found"}; 422 {"error": "..."} for a body Chatwoot would not take

Accepted messages land in `messages`, every request in `requests`, and each refused one's
(status, path) in `refusals`. `down()` answers 503 to everything until `up()`;
`down(refuse=True)` stops listening, so a call finds its connection refused, and `up()`
listens again on the same port. The signer is written from Chatwoot's own description (PR
#13573), independently of connectors/chatwoot.py, so the test checks our verifier
against another implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/api/v1/accounts/(\d+)/conversations/(\d+)/messages$")
_KNOWN = {"content", "message_type", "private", "content_type", "content_attributes", "echo_id"}


@dataclass
class Chatwoot:
    account_id: int
    token: str
    port: int = 0
    conversations: set[int] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    answering: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def down(self, *, refuse: bool = False) -> None:
        """503 to every call, or (`refuse`) no listener at all: connection refused."""
        self.answering = False
        if refuse:
            self.stop()

    def up(self) -> None:
        self.answering = True
        if self.server is None:
            self.listen()

    def listen(self) -> None:
        """Serve on `port` (0 at first: a free port, kept for every later `up()`)."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self.server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_any(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """At least `count` accepted messages, of any conversation."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        raise AssertionError(f"Chatwoot got {self.messages}, wanted {count} messages")

    def of(self, conversation: int) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["conversation_id"] == conversation]

    def wait(self, conversation: int, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(conversation)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"Chatwoot got {self.of(conversation)}, wanted {count} messages")

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((path, headers, raw))
        if not self.answering:
            return 503, {"error": "Service Unavailable"}
        found = _PATH.match(path)
        if headers.get("api_access_token") != self.token:
            return 401, {"error": "Invalid Access Token"}
        if (
            found is None
            or int(found[1]) != self.account_id
            or int(found[2]) not in self.conversations
        ):
            return 404, {"error": "Resource could not be found"}
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 422, {"error": "Content-Type must be application/json"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 422, {"error": "invalid JSON"}
        problem = _problem(body)
        if problem:
            return 422, {"error": problem}
        with self.lock:
            message = {
                "id": len(self.messages) + 1,
                "content": body["content"],
                "inbox_id": 1,
                "conversation_id": int(found[2]),
                "message_type": 1,
                "content_type": "text",
                "content_attributes": {},
                "created_at": int(time.time()),
                "private": body["private"],
                "sender": {"id": 1, "name": "Secure forms", "type": "user"},
                "attachments": [],
            }
            self.messages.append(message)
        return 200, message


def _problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    if set(body) - _KNOWN:
        return f"unknown keys {sorted(set(body) - _KNOWN)}"
    if not isinstance(body.get("content"), str) or not body["content"]:
        return "content can't be blank"
    if body.get("message_type") != "outgoing":
        return "message_type must be outgoing"
    if not isinstance(body.get("private"), bool):
        return "private must be a boolean"
    return None


def _handler(chatwoot: Chatwoot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, body = chatwoot.answer(self.path, dict(self.headers.items()), raw)
            if status != 200:
                with chatwoot.lock:
                    chatwoot.refusals.append((status, self.path))
            out = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return Handler


@contextmanager
def running_chatwoot(account_id: int = 1) -> Iterator[Chatwoot]:
    chatwoot = Chatwoot(account_id, f"cw-{uuid.uuid4().hex}")
    chatwoot.listen()
    try:
        yield chatwoot
    finally:
        chatwoot.stop()


# -- Chatwoot's webhooks ---------------------------------------------------------------


def signed(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    """The headers Chatwoot sends with a webhook: HMAC-SHA256 of "<ts>.<body>", hex."""
    ts = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Chatwoot-Timestamp": ts,
        "X-Chatwoot-Signature": f"sha256={digest}",
        "X-Chatwoot-Delivery": str(uuid.uuid4()),
    }


def conversation_event(
    event: str,
    number: int,
    *,
    assignee: int | None = None,
    status: str = "open",
    inbox_id: int = 1,
    contact: str = "Vera",
    changed: list[dict[str, Any]] | None = None,
) -> bytes:
    """A conversation webhook shaped as Chatwoot's `webhook_data`, made now. `changed` defaults to
    what Chatwoot lists for the event: the assignee for conversation_updated, the status
    for conversation_status_changed (`{"<attribute>": {"previous_value",
    "current_value"}}` each)."""
    if changed is None and event == "conversation_updated":
        changed = [{"assignee_id": {"previous_value": None, "current_value": assignee}}]
    if changed is None and event == "conversation_status_changed":
        changed = [{"status": {"previous_value": "open", "current_value": status}}]
    body = {
        "event": event,
        "id": number,
        "inbox_id": inbox_id,
        "status": status,
        "account": {"id": 1, "name": "Acme"},
        "messages": [],
        "meta": {
            "sender": {"id": 5, "name": contact, "type": "contact"},
            "assignee": (
                {"id": assignee, "name": "Sam", "available_name": "Sam", "type": "user"}
                if assignee is not None
                else None
            ),
        },
        "changed_attributes": changed or [],
        # As Chatwoot's: when the conversation last changed (a float), so two events
        # are two bodies, and only a delivery played again is the same bytes.
        "timestamp": int(time.time()),
        "updated_at": time.time(),
    }
    return json.dumps(body).encode()
