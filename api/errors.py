"""One error shape for every failure: `{"error": code, "message": text}` (+ `fields`).

Messages come from our own code, never from the request, so no submitted value can be
echoed back; unexpected exceptions answer a bare 500 and are logged by class only.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from configs.logging import current_request_id
from core.errors import DomainError, Unavailable

log = logging.getLogger("api")

NO_STORE = {"Cache-Control": "no-store"}


class ApiError(DomainError):
    """An error found at the edge (body, headers, rate limits) rather than in the domain."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, fields=fields)
        self.status = status
        self.code = code
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(
        exc.status, exc.code, exc.message, exc.fields, getattr(exc, "headers", None)
    )


_HTTP_CODES = {
    404: ("not_found", "No such endpoint."),
    405: ("method_not_allowed", "This endpoint does not accept that method."),
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "The request failed."))
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


# A store that does not answer (Redis killed, PostgreSQL restarting, a dropped connection)
# means the service is unavailable for a moment, not that it is broken: 503, so a visitor
# tries again with the key they still hold. Whatever raised it wrote nothing the retry
# could trip over: the submit path spends its key only after its reads succeeded.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


async def store_unavailable_handler(request: Request, exc: Exception) -> Response:
    log.warning(
        "store unavailable (%s) on %s %s", exc.__class__.__name__, request.method, _route(request)
    )
    return error_response(
        503,
        Unavailable.code,
        Unavailable.default_message,
        headers={"Retry-After": "2"},
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # The exception's message may quote its input, so only the class name is logged here.
    log.error("unhandled %s on %s %s", exc.__class__.__name__, request.method, _route(request))
    # Answered outside the other middleware (Starlette's ServerErrorMiddleware): the id
    # that api.request_id bound is added here, so the caller can quote it.
    request_id = current_request_id()
    return error_response(
        500,
        "internal_error",
        "Something went wrong on our side.",
        headers={"X-Request-Id": request_id} if request_id else None,
    )


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "?")
