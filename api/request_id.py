"""The request id: taken from `X-Request-Id` when it is safe to log, made otherwise,
returned on the response and bound to every log line written while the request is
answered (and, through producers.Publisher, to the worker's lines for what it queued)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from configs.logging import bind_request_id, request_id_from

HEADER = "X-Request-Id"
_HEADER = HEADER.lower().encode()


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get(HEADER))
        # Each request runs in a task of its own (a copy of the server's context), so the
        # binding ends with it; it is not unbound on the way out, so that the line of an
        # error handled outside this middleware still carries it.
        bind_request_id(request_id)

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != _HEADER]
                message["headers"] = [*headers, (_HEADER, request_id.encode())]
            await send(message)

        await self.app(scope, receive, with_id)
