"""Who is calling, decided in one place for the JSON API and the pages.

A request names its caller in one of three ways: `Authorization: Bearer sfs_…` (a user's
session), the pages' HttpOnly session cookie (the same session, kept where no script can
read it), or `Authorization: Bearer sfk_…` (a site's API key, for chat platforms' back
ends). `authenticate` turns that into an `Actor`; a write sent with the cookie must also
carry the session's CSRF token (`csrf_ok`), since a browser sends cookies on its own.

`authorize` is the edge's permission check (role, profile permission, MFA enrolment),
auditing a refusal as `access.denied`. Before any of that, a user with a `Setup` step
unfinished reaches only what that step needs (`unfinished`): a password an admin chose is
replaced first, then a role the site makes use MFA enrols; until then everything else
answers 403 (`password_change_required`, `mfa_enrollment_required`) or, for a page, sends
the user to /account, which explains. The JSON API's dispatcher wraps its handlers with
`api_call`; the pages' handlers get the same checks from `api.pages.session.signed_in_page`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError
from api.pages import cookies, csrf
from api.services import Services
from configs import Settings
from core import audit
from core.actors import SITE_KEY, Actor, Role, Scope
from core.api_keys import KEY_PREFIX, key_label, resolve_key
from core.errors import Forbidden, Unauthenticated
from core.mfa import MfaEnrollmentRequired, require_enrolled
from core.policies import site_policies
from core.runtime import Runtime
from core.sessions import resolve_session

# Who may call: nobody needs to log in / a logged-in user / a user or a site API key.
PUBLIC, USER, USER_OR_KEY = "public", "user", "user_or_key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_PURPOSE = "session"
_SESSION_COOKIE = "sf_session"
_PANEL_COOKIE = "sf_panel"
PANEL_HEADER = "X-Secureforms-Panel"
API_KEY_PREFIX = KEY_PREFIX


class Setup(StrEnum):
    """A step a user must finish before using anything else; the value is the error code."""

    PASSWORD = "password_change_required"  # noqa: S105 (an error code)
    MFA = "mfa_enrollment_required"


EVERY_SETUP = frozenset(Setup)
NO_SETUP: frozenset[Setup] = frozenset()


class PasswordChangeRequired(ApiError):
    status, code = 403, Setup.PASSWORD.value  # declared on the class, as DomainErrors do

    def __init__(self) -> None:
        super().__init__(
            self.status,
            self.code,
            "An administrator set your password: choose your own first "
            "(POST /api/v1/auth/password).",
        )


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint or page: `auth`, then any of `roles` (None: whoever `auth`
    lets in), the profile `permission`, and `mfa`: enrolled if the site makes the role.
    `during_setup`: the unfinished setup steps that still let a user in (sign-out, the
    password change, MFA enrolment); by default none do. `scope`: what a site key must
    hold to call (core.actors.Scope); users are not scoped."""

    auth: str = USER
    roles: tuple[Role, ...] | None = None
    permission: str | None = None
    mfa: bool = False
    during_setup: frozenset[Setup] = NO_SETUP
    scope: Scope = Scope.CONVERSATIONS


# -- credentials ------------------------------------------------------------------------------


def session_cookie_name(settings: Settings) -> str:
    return cookies.name(settings, _SESSION_COOKIE)


def cookie_token(request: Request, settings: Settings) -> str | None:
    """The pages' session; else the agent panel's, which a browser sends only inside the
    chat console that framed it (api.pages.cookies). The panel's own calls say so
    (PANEL_HEADER, or `?panel=1` where a header can't go: an EventSource): a console on
    the same site as this service sends both cookies, and the panel's session is its own."""
    if request.headers.get(PANEL_HEADER) == "1" or request.query_params.get("panel") == "1":
        return panel_token(request, settings)
    token = request.cookies.get(session_cookie_name(settings)) or panel_token(request, settings)
    return token if token else None


def panel_token(request: Request, settings: Settings) -> str | None:
    """The agent panel's session alone (the /embed/agent pages read no other)."""
    token = request.cookies.get(cookies.name(settings, _PANEL_COOKIE))
    return token if token else None


def remember(response: Response, settings: Settings, token: str, *, framed: bool = False) -> None:
    """Keep a new session in this browser (`framed`: in the agent panel's frame)."""
    base = _PANEL_COOKIE if framed else _SESSION_COOKIE
    cookies.keep(response, settings, base, token, framed=framed)


def forget(response: Response, settings: Settings, *, framed: bool = False) -> None:
    base = _PANEL_COOKIE if framed else _SESSION_COOKIE
    cookies.drop(response, settings, base, framed=framed)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def credentials(request: Request, settings: Settings) -> tuple[str | None, bool]:
    """The caller's token, and whether it came from the pages' session cookie (whose
    writes must then carry the session's CSRF token)."""
    token = bearer_token(request)
    if token is not None:
        return token, False
    token = cookie_token(request, settings)
    return token, token is not None


def csrf_for(rt: Runtime, actor: Actor) -> str:
    assert actor.session_id is not None
    return csrf.issue(rt, CSRF_PURPOSE, actor.session_id)


def csrf_ok(rt: Runtime, actor: Actor, token: object) -> bool:
    return actor.session_id is not None and csrf.verify(rt, CSRF_PURPOSE, actor.session_id, token)


# -- who, and may they ------------------------------------------------------------------------


def authenticate(rt: Runtime, token: str | None, auth: str, resource: str = "") -> Actor | None:
    """The caller `token` names; None for a public endpoint. Raises Unauthenticated (or
    SessionExpired) for no caller, 403 for a site key where keys may not go."""
    if auth == PUBLIC:
        return None
    if token is None:
        raise Unauthenticated()
    if token.startswith(API_KEY_PREFIX):
        # A key that isn't one is unauthenticated wherever it is sent; a real one is
        # refused where keys may not go.
        key = resolve_key(rt, token)
        if key is None:
            raise Unauthenticated()
        if auth != USER_OR_KEY:
            refused(rt, key, resource)
            raise ApiError(403, "forbidden", "A site API key cannot call this endpoint.")
        return key
    return resolve_session(rt, token)


def check_csrf(rt: Runtime, request: Request, actor: Actor | None) -> None:
    """A write made with the session cookie must prove it came from one of our pages."""
    if actor is None or request.method in SAFE_METHODS:
        return
    if not csrf_ok(rt, actor, request.headers.get("x-csrf-token")):
        raise ApiError(403, "forbidden", "Reload the page and try again.")


def refused(rt: Runtime, actor: Actor, resource: str, type: str = "access.denied") -> None:
    """Audit a caller turned away (at the edge, or by core under an endpoint's own type)."""
    if actor.key_id is not None:
        resource = f"{key_label(actor)};{resource[:200]}"
    audit.record(
        rt,
        site_id=actor.site_id,
        type=type,
        outcome=audit.FAILURE,
        user_id=actor.user_id,
        resource=resource[:300],
    )


def key_used(rt: Runtime, actor: Actor | None, resource: str) -> None:
    """Every call a site key makes is audited, with the key's name (PCI-DSS 10.2.1)."""
    if actor is not None and actor.key_id is not None:
        audit.record(
            rt,
            site_id=actor.site_id,
            type="api_key.used",
            resource=f"{key_label(actor)};{resource[:200]}",
        )


def unfinished(rt: Runtime, actor: Actor) -> Setup | None:
    """The setup step this user must finish before anything else, if any."""
    if actor.user_id is None:
        return None  # a site key
    if actor.must_change_password:
        return Setup.PASSWORD
    if not actor.mfa_enabled and actor.role in site_policies(rt, actor.site_id).mfa_required_roles:
        return Setup.MFA
    return None


def setup_blocks(rt: Runtime, access: Access, actor: Actor, resource: str) -> Setup | None:
    """The unfinished step that keeps `actor` from `resource` (audited), or None."""
    step = unfinished(rt, actor)
    if step is None or step in access.during_setup:
        return None
    refused(rt, actor, f"{resource};{step}")
    return step


def authorize(rt: Runtime, access: Access, actor: Actor | None, resource: str) -> None:
    """The edge's permission check: setup finished, role, profile permission, MFA."""
    if actor is None:
        return
    step = setup_blocks(rt, access, actor, resource)
    if step is Setup.PASSWORD:
        raise PasswordChangeRequired()
    if step is Setup.MFA:
        raise MfaEnrollmentRequired(
            "This site requires multi-factor authentication for your role: enrol first "
            "(POST /api/v1/auth/mfa/enroll). Until then only your account and sign-out work."
        )
    allowed = (access.roles is None or actor.role in access.roles) and (
        access.permission is None or access.permission in actor.permissions
    )
    if not allowed:
        refused(rt, actor, resource)
        raise Forbidden()
    if actor.role == SITE_KEY and access.scope not in actor.scopes:
        refused(rt, actor, f"{resource};scope={access.scope}")
        raise ApiError(403, "forbidden", f"This API key does not have the {access.scope} scope.")
    if access.mfa:
        require_enrolled(rt, actor)


# -- the JSON API's decorator -----------------------------------------------------------------

JsonView = Callable[[Request, Actor | None, dict[str, Any]], Any]
BodyParser = Callable[[bytes], dict[str, Any]]


def api_call(
    access: Access, resource: str, *, parse: BodyParser | None = None
) -> Callable[[JsonView], Callable[[Request, bytes], Awaitable[Any]]]:
    """Wrap a JSON view `(request, actor, body)` of `resource` ("POST /api/v1/users", as
    refusals are audited): the checks and a sync view share one
    thread-pool hop (sessions, keys and Argon2 block); an async view is awaited after.

    Who is calling, then what they sent, then whether they may: a stranger learns nothing
    from a body's errors, a user's malformed request still hears why.
    """

    def decorate(view: JsonView) -> Callable[[Request, bytes], Awaitable[Any]]:
        async def call(request: Request, raw: bytes) -> Any:
            services: Services = request.app.state.services
            rt = services.rt
            token, from_cookie = credentials(request, services.settings)

            def admit() -> tuple[Actor | None, dict[str, Any]]:
                actor = authenticate(rt, token, access.auth, resource)
                if from_cookie:
                    check_csrf(rt, request, actor)
                body = parse(raw) if parse is not None else {}
                authorize(rt, access, actor, resource)
                key_used(rt, actor, resource)
                return actor, body

            if inspect.iscoroutinefunction(view):
                actor, body = await run_in_threadpool(admit)
                return await view(request, actor, body)

            def work() -> Any:
                actor, body = admit()
                return view(request, actor, body)

            return await run_in_threadpool(work)

        return call

    return decorate
