"""A signed-in user's session in the browser: the same bearer session as the API's, kept
in an HttpOnly, SameSite=Strict cookie so no script of ours ever holds the token.

The API accepts that cookie in place of `Authorization: Bearer`; a write sent with the
cookie must also carry `X-CSRF-Token`, a token bound to the session (`csrf_for`), which a
page hands its scripts in a `<meta name="csrf-token">`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.pages import cookies, csrf
from configs import Settings
from core.actors import Actor
from core.errors import SessionExpired, Unauthenticated
from core.policies import site_policies
from core.runtime import Runtime
from core.sessions import resolve_session

PURPOSE = "session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


_COOKIE = "sf_session"


def cookie_name(settings: Settings) -> str:
    return cookies.name(settings, _COOKIE)


def cookie_token(request: Request, settings: Settings) -> str | None:
    token = request.cookies.get(cookie_name(settings))
    return token if token else None


def remember(response: Response, settings: Settings, token: str) -> None:
    cookies.keep(response, settings, _COOKIE, token)


def forget(response: Response, settings: Settings) -> None:
    cookies.drop(response, settings, _COOKIE)


def csrf_for(rt: Runtime, actor: Actor) -> str:
    assert actor.session_id is not None
    return csrf.issue(rt, PURPOSE, actor.session_id)


def csrf_ok(rt: Runtime, actor: Actor, token: object) -> bool:
    return actor.session_id is not None and csrf.verify(rt, PURPOSE, actor.session_id, token)


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
    request: Request, rt: Runtime, settings: Settings, roles: frozenset[str] | None = None
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
    return "/agent" if actor.role == "agent" else "/admin"


def local_path(value: str | None) -> str | None:
    """A `next` target we may redirect to: a path on this host, never another origin."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 32 for c in value) or len(value) > 500:
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
    nav = [("/agent", "Workspace")] if actor.role == "agent" else []
    if actor.role in ("admin", "manager"):
        nav.append(("/admin", "Admin"))
    nav.append(("/account", "Account"))
    policies = site_policies(rt, actor.site_id)
    return {
        "me": actor,
        "nav": [{"href": h, "label": label, "current": h == current} for h, label in nav],
        "csrf": csrf_for(rt, actor),
        "idle_timeout_s": policies.idle_timeout_s,
        # The account page explains this itself, at length.
        "mfa_setup_needed": current != "/account"
        and actor.role in policies.mfa_required_roles
        and not actor.mfa_enabled,
    }
