"""Tiny ASGI middleware: security headers, an access log of route templates, metrics."""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import LATENCY, REQUESTS

access_log = structlog.get_logger("api.access")

NO_FRAMING = "'none'"


def csp(frame_ancestors: str = NO_FRAMING) -> str:
    """Our own scripts and styles only: no inline script, no `style=`, nothing from another
    origin. `frame_ancestors` is a checked source list (api.pages.render.ancestors)."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; font-src 'self'; form-action 'self'; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors {frame_ancestors}"
    )


def security_headers(frame_ancestors: str = NO_FRAMING) -> dict[str, str]:
    """The headers every response carries; a page that may be framed passes its origins."""
    headers = {
        "Content-Security-Policy": csp(frame_ancestors),
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if frame_ancestors == NO_FRAMING:
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers


_HEADERS = [(k.lower().encode(), v.encode()) for k, v in security_headers().items()]
_CSP, _XFO = b"content-security-policy", b"x-frame-options"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                if _CSP in present:  # the response chose its own framing (a page's)
                    present.add(_XFO)
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in _HEADERS if h[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class AccessLog:
    """Logs and counts the route *template*, never the raw path: visitor links carry OTKs
    in paths (and a template keeps the metrics' labels few)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            access_log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status["code"],
                duration_ms=round(elapsed * 1000, 1),
            )
