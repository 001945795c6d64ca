"""The request id (api.request_id) on a tiny app: a plain caller's id comes back, anything
else is replaced, a handler's own header does not make two, and a 500 answered outside the
middleware carries it too."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support.run_async import run_async

from api.errors import unexpected_error_handler
from api.request_id import RequestId
from configs.logging import current_request_id


async def _echo(request: Request) -> Response:
    # What the handler's log lines (and a task it queues) are bound to.
    return JSONResponse({"bound": current_request_id()}, headers={"X-Request-Id": "own"})


async def _fail(request: Request) -> Response:
    raise RuntimeError("boom")


def _get(path: str, headers: dict[str, str]) -> httpx.Response:
    app = Starlette(
        routes=[Route("/echo", _echo), Route("/fail", _fail)],
        middleware=[Middleware(RequestId)],
        exception_handlers={Exception: unexpected_error_handler},
    )

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers)

    return run_async(fetch)


def test_the_callers_id_is_bound_and_returned_once() -> None:
    r = _get("/echo", {"X-Request-Id": "support-ticket-42"})
    assert r.headers.get_list("x-request-id") == ["support-ticket-42"]
    assert r.json() == {"bound": "support-ticket-42"}


def test_an_unsafe_id_is_replaced_by_a_new_one() -> None:
    r = _get("/echo", {"X-Request-Id": "drop table; --"})
    made = r.headers["x-request-id"]
    assert made != "drop table; --" and len(made) == 32
    assert r.json() == {"bound": made}


def test_a_500_carries_the_id() -> None:
    r = _get("/fail", {"X-Request-Id": "req-500"})
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error"
    assert r.headers["x-request-id"] == "req-500"
