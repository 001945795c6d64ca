"""A tiny endpoint registry: one decorator declares path, auth, who may call, body and rate.

The same declarations build the Starlette routes and the OpenAPI document, so the two
can't drift apart. Handlers are plain sync functions taking a `Ctx`; the wrapper runs
auth and the handler in one thread-pool hop, since core talks to its stores synchronously.

Who may call is checked here, at the edge, before any handler runs: `auth` says whether a
session or a site key is needed, `roles` which roles, `permission` which profile
permission, `mfa` that a role the site makes use MFA must have enrolled. The actor's
site then scopes every query the handler makes (an Actor without a site can't exist), so
another site's ids answer 404. Refusals are audited ("access.denied"); an endpoint with
`audit` also gets its refused attempts audited under that type (its successes are audited
by core, where they happen).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import NO_SETUP, PUBLIC, USER, USER_OR_KEY, Access, Setup, api_call, refused
from api.bodies import F, parse_json, read_body
from api.errors import (
    NO_STORE,
    STORE_UNAVAILABLE,
    ApiError,
    store_unavailable_handler,
    unexpected_error_handler,
)
from api.ratelimit import client_address
from api.services import Services
from core import audit
from core.actors import SITE_KEY, USER_ROLES, Actor, Role, Scope
from core.errors import DomainError
from core.runtime import Runtime
from core.text import is_uuid, one_line

__all__ = ["PUBLIC", "USER", "USER_OR_KEY", "Ctx", "Registry"]

ANY_BODY: Mapping[str, F] = {}  # marker: the handler validates the object itself
# Roles, for `roles=`: any user / admins only.
ANY_USER: tuple[Role, ...] = USER_ROLES
ADMIN: tuple[Role, ...] = (Role.ADMIN,)


@dataclass
class Ctx:
    request: Request
    services: Services
    actor: Actor | None
    body: dict[str, Any]
    path: dict[str, str]

    @property
    def rt(self) -> Runtime:
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
    roles: tuple[Role, ...] | None = None  # None: any actor `auth` lets in
    permission: str | None = None
    mfa: bool = False
    audit: str | None = None  # the audit type of this endpoint's refused attempts
    during_setup: frozenset[Setup] = NO_SETUP  # see api.auth.Setup
    max_body: int | None = None  # above the settings' max_body_bytes (a logo in base64)
    scope: Scope = Scope.CONVERSATIONS  # what a site key needs (auth=USER_OR_KEY only)
    query: Mapping[str, Mapping[str, Any]] | None = None  # query parameters' JSON schemas

    @property
    def access(self) -> Access:
        return Access(
            self.auth, self.roles, self.permission, self.mfa, self.during_setup, self.scope
        )


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
        roles: tuple[Role, ...] | None = None,
        permission: str | None = None,
        mfa: bool = False,
        audit: str | None = None,
        during_setup: frozenset[Setup] = NO_SETUP,
        max_body: int | None = None,
        scope: Scope | None = None,
        query: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if auth == PUBLIC and (roles or permission or mfa):
            raise ValueError(f"{method} {path}: a public endpoint has nobody to check")
        if roles is not None and SITE_KEY in roles and auth != USER_OR_KEY:
            raise ValueError(f"{method} {path}: site keys need auth=USER_OR_KEY")
        if scope is not None and auth != USER_OR_KEY:
            raise ValueError(f"{method} {path}: only an endpoint keys may call has a scope")
        documented = dict(responses or {})
        if roles is not None or permission:
            documented.setdefault(403, "forbidden")
        if mfa:
            documented[403] = "forbidden or mfa_enrollment_required"
        if auth != PUBLIC:
            # A user with a setup step unfinished (api.auth.Setup) is refused elsewhere.
            blocked = sorted(str(s) for s in set(Setup) - during_setup)
            if blocked:
                shown = documented.get(403, "").replace(" or mfa_enrollment_required", "")
                documented[403] = " or ".join(filter(None, [shown, *blocked]))

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
                    documented,
                    roles,
                    permission,
                    mfa,
                    audit,
                    during_setup,
                    max_body,
                    scope or Scope.CONVERSATIONS,
                    query,
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


def _takes_body(spec: EndpointSpec) -> bool:
    return spec.method in ("POST", "PUT", "PATCH")


def _call(spec: EndpointSpec) -> Callable[[Request, bytes], Awaitable[Any]]:
    """The spec's handler behind the one auth layer (api.auth.api_call)."""
    schema = None if spec.body is ANY_BODY else (spec.body or {})
    parse = (lambda raw: parse_json(raw, schema)) if _takes_body(spec) else None
    access = api_call(spec.access, f"{spec.method} {spec.path}", parse=parse)

    def context(request: Request, actor: Actor | None, body: dict[str, Any]) -> Ctx:
        services: Services = request.app.state.services
        if spec.query is not None:
            _known_query(request, spec.query)
        return Ctx(request, services, actor, body, dict(request.path_params))

    if inspect.iscoroutinefunction(spec.handler):

        async def run_async(request: Request, actor: Actor | None, body: dict[str, Any]) -> Any:
            return await spec.handler(context(request, actor, body))

        return access(run_async)

    def run(request: Request, actor: Actor | None, body: dict[str, Any]) -> Any:
        return _audited(spec, context(request, actor, body))

    return access(run)


def _known_query(request: Request, known: Mapping[str, Any]) -> None:
    """An endpoint that takes query parameters names them all: any other is refused, as an
    unknown body field is (its name is client input, so not repeated)."""
    if any(name not in known for name in request.query_params):
        raise ApiError(
            422,
            "invalid_query",
            "Unknown query parameter.",
            fields={"query": f"Only {', '.join(known)}."},
        )


def _audited(spec: EndpointSpec, ctx: Ctx) -> Any:
    """Run the handler; for an audited endpoint, record a refusal under its type."""
    if spec.audit is None or ctx.actor is None:
        return spec.handler(ctx)
    try:
        return spec.handler(ctx)
    except DomainError as exc:
        resource = ";".join(
            f"{k.removesuffix('_id')}:{_id_or_mark(v)}" for k, v in ctx.path.items()
        )
        refused(ctx.rt, ctx.actor, f"{resource};error={exc.code}", type=spec.audit)
        raise


def _id_or_mark(value: str) -> str:
    """A path parameter as the audit may keep it: one of our ids, or a mark that it wasn't.

    Anything else a client put in the path stays out of the trail, whatever it is.
    """
    return value if is_uuid(value) else "(not an id)"


def _dispatcher(methods: dict[str, EndpointSpec]) -> Callable[[Request], Any]:
    calls = {method: _call(spec) for method, spec in methods.items()}

    async def handle(request: Request) -> Response:
        method = request.method if request.method in methods else "GET"
        spec, call = methods[method], calls[method]
        services: Services = request.app.state.services
        # Each request runs in a task of its own, and run_in_threadpool copies the context:
        # whatever core audits while answering it names this client as the origin.
        audit.current_origin.set(client_address(request))
        if spec.rate:
            await services.limiter.check(spec.rate, client_address(request))
        raw = b""
        if _takes_body(spec):
            limit = max(spec.max_body or 0, services.settings.max_body_bytes)
            raw = await read_body(request, limit)
            request.state.raw_body = raw  # for a signature made over the bytes as sent
        # A path parameter no resource can be named by: control characters (NUL, which
        # PostgreSQL refuses) or text that isn't valid Unicode.
        if not all(one_line(str(v)) for v in request.path_params.values()):
            raise ApiError(404, "not_found", "No such resource on this site.")
        result = await call(request, raw)
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
        except STORE_UNAVAILABLE as exc:
            return await store_unavailable_handler(request, exc)
        except Exception as exc:
            return await unexpected_error_handler(request, exc)

    return dispatch
