"""A tiny endpoint registry: one decorator declares path, auth, body and rate limit.

The same declarations build the Starlette routes and the OpenAPI document, so the two
can't drift apart. Handlers are plain sync functions taking a `Ctx`; the wrapper runs
auth and the handler in one thread-pool hop, since core talks to its stores synchronously.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.bodies import F, parse_json, read_body
from api.errors import NO_STORE, ApiError, unexpected_error_handler
from api.ratelimit import client_address
from api.services import Services
from core.actors import Actor
from core.errors import DomainError, Unauthenticated
from core.sessions import resolve_session
from core.sites import site_for_api_key

# Who may call: nobody needs to log in / a logged-in user / a user or a site API key.
PUBLIC, USER, USER_OR_KEY = "public", "user", "user_or_key"
ANY_BODY: Mapping[str, F] = {}  # marker: the handler validates the object itself


@dataclass
class Ctx:
    request: Request
    services: Services
    actor: Actor | None
    body: dict[str, Any]
    path: dict[str, str]

    @property
    def rt(self):  # type: ignore[no-untyped-def]
        return self.services.rt

    @property
    def user(self) -> Actor:
        assert self.actor is not None
        return self.actor

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)


@dataclass(frozen=True)
class EndpointSpec:
    method: str
    path: str
    handler: Callable[..., Any]
    auth: str
    body: Mapping[str, F] | None
    status: int
    summary: str
    tag: str
    rate: str | None
    responses: dict[int, str] = field(default_factory=dict)


class Registry:
    def __init__(self) -> None:
        self.specs: list[EndpointSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        auth: str = USER,
        body: Mapping[str, F] | None = None,
        status: int = 200,
        summary: str = "",
        tag: str = "",
        rate: str | None = None,
        responses: dict[int, str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.specs.append(
                EndpointSpec(
                    method,
                    path,
                    handler,
                    auth,
                    body,
                    status,
                    summary or (handler.__doc__ or "").strip().split("\n")[0],
                    tag,
                    rate,
                    responses or {},
                )
            )
            return handler

        return register

    def routes(self) -> list[Route]:
        by_path: dict[str, dict[str, EndpointSpec]] = {}
        for spec in self.specs:
            by_path.setdefault(spec.path, {})[spec.method] = spec
        return [
            Route(path, _dispatcher(methods), methods=list(methods))
            for path, methods in by_path.items()
        ]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(services: Services, token: str | None, auth: str) -> Actor | None:
    if auth == PUBLIC:
        return None
    if token is None:
        raise Unauthenticated()
    if token.startswith("sfk_"):
        if auth != USER_OR_KEY:
            raise ApiError(403, "forbidden", "A site API key can only manage conversations.")
        site_id = site_for_api_key(services.rt, token)
        if site_id is None:
            raise Unauthenticated()
        return Actor(site_id=site_id, role="site_key")
    return resolve_session(services.rt, token)


def _dispatcher(methods: dict[str, EndpointSpec]) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        spec = methods[request.method] if request.method in methods else methods.get("GET")
        assert spec is not None
        services: Services = request.app.state.services
        if spec.rate:
            await services.limiter.check(spec.rate, client_address(request))
        body: dict[str, Any] = {}
        if spec.method in ("POST", "PUT", "PATCH"):
            raw = await read_body(request, services.settings.max_body_bytes)
            body = parse_json(raw, None if spec.body is ANY_BODY else (spec.body or {}))
        token = bearer_token(request)
        path = dict(request.path_params)

        if inspect.iscoroutinefunction(spec.handler):
            actor = await run_in_threadpool(authenticate, services, token, spec.auth)
            result = await spec.handler(Ctx(request, services, actor, body, path))
        else:

            def work() -> Any:
                actor = authenticate(services, token, spec.auth)
                return spec.handler(Ctx(request, services, actor, body, path))

            result = await run_in_threadpool(work)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204, headers=NO_STORE)
        return JSONResponse(result, status_code=spec.status, headers=NO_STORE)

    async def dispatch(request: Request) -> Response:
        # Answered here rather than by Starlette's last-resort handler, which would re-raise
        # and have the server log a full traceback whose messages may quote input.
        try:
            return await handle(request)
        except DomainError:
            raise
        except Exception as exc:
            return await unexpected_error_handler(request, exc)

    return dispatch
