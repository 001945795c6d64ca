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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.bodies import F, parse_json, read_body
from api.errors import NO_STORE, ApiError, unexpected_error_handler
from api.pages import session as page_session
from api.ratelimit import client_address
from api.services import Services
from core import audit
from core.actors import SITE_KEY, USER_ROLES, Actor
from core.errors import DomainError, Forbidden, Unauthenticated
from core.mfa import require_enrolled
from core.sessions import resolve_session
from core.sites import site_for_api_key

# Who may call: nobody needs to log in / a logged-in user / a user or a site API key.
PUBLIC, USER, USER_OR_KEY = "public", "user", "user_or_key"
ANY_BODY: Mapping[str, F] = {}  # marker: the handler validates the object itself
# Roles, for `roles=`: any user / admins only / agents, admins and chat platforms' keys.
ANY_USER: tuple[str, ...] = USER_ROLES
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ADMIN: tuple[str, ...] = ("admin",)


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
    roles: tuple[str, ...] | None = None  # None: any actor `auth` lets in
    permission: str | None = None
    mfa: bool = False
    audit: str | None = None  # the audit type of this endpoint's refused attempts


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
        roles: tuple[str, ...] | None = None,
        permission: str | None = None,
        mfa: bool = False,
        audit: str | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if auth == PUBLIC and (roles or permission or mfa):
            raise ValueError(f"{method} {path}: a public endpoint has nobody to check")
        if roles is not None and SITE_KEY in roles and auth != USER_OR_KEY:
            raise ValueError(f"{method} {path}: site keys need auth=USER_OR_KEY")
        documented = dict(responses or {})
        if roles is not None or permission:
            documented.setdefault(403, "forbidden")
        if mfa:
            documented[403] = "forbidden or mfa_enrollment_required"

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


def session_token(request: Request, services: Services) -> tuple[str | None, bool]:
    """The caller's token, and whether it came from the pages' session cookie (whose
    writes must then carry the page's CSRF token)."""
    token = bearer_token(request)
    if token is not None:
        return token, False
    token = page_session.cookie_token(request, services.settings)
    return token, token is not None


def check_page_csrf(services: Services, request: Request, actor: Actor | None) -> None:
    """A write made with the session cookie must prove it came from one of our pages."""
    if actor is None or request.method in page_session.SAFE_METHODS:
        return
    if not page_session.csrf_ok(services.rt, actor, request.headers.get("x-csrf-token")):
        raise ApiError(403, "forbidden", "Reload the page and try again.")


def authenticate(services: Services, token: str | None, auth: str) -> Actor | None:
    if auth == PUBLIC:
        return None
    if token is None:
        raise Unauthenticated()
    if token.startswith("sfk_"):
        # A key that isn't one is unauthenticated wherever it is sent; a real one is
        # refused where keys may not go.
        site_id = site_for_api_key(services.rt, token)
        if site_id is None:
            raise Unauthenticated()
        if auth != USER_OR_KEY:
            raise ApiError(403, "forbidden", "A site API key can only manage conversations.")
        return Actor(site_id=site_id, role=SITE_KEY)
    return resolve_session(services.rt, token)


def authorize(services: Services, spec: EndpointSpec, actor: Actor | None) -> None:
    """The edge's permission check: role, profile permission, MFA enrolment."""
    if actor is None:
        return
    allowed = (spec.roles is None or actor.role in spec.roles) and (
        spec.permission is None or spec.permission in actor.permissions
    )
    if not allowed:
        audit.record(
            services.rt,
            site_id=actor.site_id,
            type="access.denied",
            outcome=audit.FAILURE,
            user_id=actor.user_id,
            resource=f"{spec.method} {spec.path}",
        )
        raise Forbidden()
    if spec.mfa:
        require_enrolled(services.rt, actor)


def _audited(services: Services, spec: EndpointSpec, ctx: Ctx) -> Any:
    """Run the handler; for an audited endpoint, record a refusal under its type."""
    if spec.audit is None or ctx.actor is None:
        return spec.handler(ctx)
    try:
        return spec.handler(ctx)
    except DomainError as exc:
        resource = ";".join(
            f"{k.removesuffix('_id')}:{_id_or_mark(v)}" for k, v in ctx.path.items()
        )
        audit.record(
            services.rt,
            site_id=ctx.actor.site_id,
            type=spec.audit,
            outcome=audit.FAILURE,
            user_id=ctx.actor.user_id,
            resource=f"{resource};error={exc.code}",
        )
        raise


def _id_or_mark(value: str) -> str:
    """A path parameter as the audit may keep it: one of our ids, or a mark that it wasn't.

    Anything else a client put in the path stays out of the trail, whatever it is.
    """
    return value if _UUID.match(value) else "(not an id)"


def _names_nothing(value: str) -> bool:
    """A path parameter no resource can be named by: control characters (NUL, which
    PostgreSQL refuses) or text that isn't valid Unicode."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _dispatcher(methods: dict[str, EndpointSpec]) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        spec = methods[request.method] if request.method in methods else methods.get("GET")
        assert spec is not None
        services: Services = request.app.state.services
        # Each request runs in a task of its own, and run_in_threadpool copies the context:
        # whatever core audits while answering it names this client as the origin.
        audit.current_origin.set(client_address(request))
        if spec.rate:
            await services.limiter.check(spec.rate, client_address(request))
        raw = b""
        takes_body = spec.method in ("POST", "PUT", "PATCH")
        if takes_body:
            raw = await read_body(request, services.settings.max_body_bytes)
        token, from_cookie = session_token(request, services)
        path = dict(request.path_params)
        if any(_names_nothing(str(v)) for v in path.values()):
            raise ApiError(404, "not_found", "No such resource on this site.")

        def admit() -> tuple[Actor | None, dict[str, Any]]:
            # Who is calling, then what they sent, then whether they may: a stranger learns
            # nothing from a body's errors, a user's malformed request still hears why.
            actor = authenticate(services, token, spec.auth)
            if from_cookie:
                check_page_csrf(services, request, actor)
            body: dict[str, Any] = {}
            if takes_body:
                body = parse_json(raw, None if spec.body is ANY_BODY else (spec.body or {}))
            authorize(services, spec, actor)
            return actor, body

        if inspect.iscoroutinefunction(spec.handler):
            actor, body = await run_in_threadpool(admit)
            result = await spec.handler(Ctx(request, services, actor, body, path))
        else:

            def work() -> Any:
                actor, body = admit()
                return _audited(services, spec, Ctx(request, services, actor, body, path))

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
