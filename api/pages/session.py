"""A signed-in user's pages: the same bearer session as the API's, kept in an HttpOnly,
SameSite=Strict cookie so no script of ours ever holds the token (api.auth reads it).

`signed_in_page` is the pages' counterpart of the JSON API's `api_call`: the sign-in (or
the redirect to /login), the role check, the form's CSRF token, and the view in the
thread pool. A page's scripts get the session's CSRF token from `<meta name="csrf-token">`
(`layout`), and send it as `X-CSRF-Token` when they call the API with the cookie.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.auth import NO_SETUP, Access, Setup, cookie_token, csrf_for, csrf_ok, setup_blocks
from api.auth import forget as forget
from api.auth import remember as remember
from api.pages.web import MAX_FORM_FIELDS, Handler, forbidden_page, rate_limit, read_form
from api.pages.web import services as services_of
from configs import Settings
from core.actors import Actor, Role
from core.errors import SessionExpired, Unauthenticated
from core.policies import site_policies
from core.runtime import Runtime
from core.sessions import resolve_session
from core.text import one_line

ROLE_NAMES = {Role.AGENT: "Agent", Role.MANAGER: "Manager", Role.ADMIN: "Administrator"}

# Where a user with a setup step unfinished is sent; the account page explains it.
_SETUP_PAGES = {
    Setup.PASSWORD: "/account?required=password#password-title",
    Setup.MFA: "/account?required=mfa",
}

Posted = dict[str, str]
PageView = Callable[[Request, Runtime, Actor, Posted], Response]
# A section's own check once the user is signed in: None to go on, else the page instead.
Check = Callable[[Request, Runtime, Actor], Response | None]


def page_actor(request: Request, rt: Runtime, settings: Settings) -> Actor | None:
    """Who is signed in on this browser, or None (no cookie, ended or idle session)."""
    token = cookie_token(request, settings)
    if token is None:
        return None
    try:
        return resolve_session(rt, token)
    except (Unauthenticated, SessionExpired):
        return None


def signed_in(
    request: Request, rt: Runtime, settings: Settings, roles: frozenset[Role] | None = None
) -> Actor | RedirectResponse:
    """The page's user, or the redirect to /login that replaces the page (saying the
    session ended when there was one). A user of another role is sent to their own home."""
    actor = page_actor(request, rt, settings)
    if actor is None:
        ended = cookie_token(request, settings) is not None
        return to_login(request, "ended" if ended else None)
    if roles is not None and actor.role not in roles:
        return RedirectResponse(home_of(actor), status_code=303)
    return actor


def home_of(actor: Actor) -> str:
    return home_of_role(actor.role)


def home_of_role(role: Role) -> str:
    return "/agent" if role == Role.AGENT else "/admin"


def local_path(value: str | None) -> str | None:
    """A `next` target we may redirect to: a path on this host, never another origin."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if not one_line(value) or len(value) > 500:
        return None
    return value


def to_login(request: Request, reason: str | None = None) -> RedirectResponse:
    target = request.url.path
    query = f"?next={quote(target, safe='/')}"
    if reason:
        query += f"&reason={reason}"
    return RedirectResponse(f"/login{query}", status_code=303)


def layout(rt: Runtime, actor: Actor, current: str) -> dict[str, Any]:
    """What `app_base.html` needs: who is signed in, the nav, the session's CSRF token
    (for forms and, through a meta tag, the page's scripts) and the idle timeout."""
    nav = [("/agent", "Workspace")] if actor.role == Role.AGENT else []
    if actor.role in (Role.ADMIN, Role.MANAGER):
        nav.append(("/admin", "Admin"))
    nav.append(("/account", "Account"))
    policies = site_policies(rt, actor.site_id)
    return {
        "me": actor,
        "nav": [{"href": h, "label": label, "current": h == current} for h, label in nav],
        "csrf": csrf_for(rt, actor),
        "idle_timeout_s": policies.idle_timeout_s,
    }


def signed_in_page(
    roles: frozenset[Role] | None = None,
    *,
    posts: bool = False,
    limit: str | None = None,
    max_fields: int = MAX_FORM_FIELDS,
    check: Check | None = None,
    during_setup: frozenset[Setup] = NO_SETUP,
) -> Callable[[PageView], Handler]:
    """A page for a signed-in user of `roles` (None: any). A post (`posts`) is read first
    (rate-limited by `limit`), then must carry the session's CSRF token: a refused one
    changes nothing. `check` is the section's own rule, after sign-in and before CSRF.
    A user with a setup step unfinished that `during_setup` doesn't name is sent to
    /account instead (api.auth.Setup). The view runs in the thread pool: sessions, stores
    and Argon2 block."""
    access = Access(during_setup=during_setup)

    def decorate(view: PageView) -> Handler:
        @functools.wraps(view)
        async def handler(request: Request) -> Response:
            if limit is not None:
                await rate_limit(request, limit)
            posted = await read_form(request, max_fields) if posts else {}
            svc = services_of(request)

            def work() -> Response:
                actor = signed_in(request, svc.rt, svc.settings, roles)
                if isinstance(actor, Response):
                    return actor
                resource = f"{request.method} {request.url.path}"
                step = setup_blocks(svc.rt, access, actor, resource)
                if step is not None:
                    return RedirectResponse(_SETUP_PAGES[step], status_code=303)
                instead = check(request, svc.rt, actor) if check is not None else None
                if instead is not None:
                    return instead
                if posts and not csrf_ok(svc.rt, actor, posted.get("csrf")):
                    return forbidden_page(request)
                return view(request, svc.rt, actor, posted)

            return await run_in_threadpool(work)

        return handler

    return decorate
