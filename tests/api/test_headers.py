"""One set of security headers (api.middleware) for API answers and pages alike."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support.run_async import run_async

from api.middleware import SecurityHeaders, csp
from api.pages.render import page_headers


async def _json(request: Request) -> Response:
    return JSONResponse({})


async def _framed_page(request: Request) -> Response:
    return Response("<p>", headers=page_headers(["https://chat.example.com"]))


def _get(path: str) -> httpx.Response:
    app = Starlette(
        routes=[Route("/json", _json), Route("/framed", _framed_page)],
        middleware=[Middleware(SecurityHeaders)],
    )

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path)

    return run_async(fetch)


def test_an_api_answer_gets_the_headers_and_may_not_be_framed() -> None:
    r = _get("/json")
    assert r.headers["content-security-policy"] == csp()
    assert r.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["cross-origin-opener-policy"] == "same-origin"


def test_a_page_that_may_be_framed_keeps_its_own_framing() -> None:
    r = _get("/framed")
    assert r.headers["content-security-policy"].endswith("frame-ancestors https://chat.example.com")
    assert "x-frame-options" not in r.headers  # DENY would undo the allow-list
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["permissions-policy"].startswith("camera=()")
    assert len(r.headers.get_list("content-security-policy")) == 1
