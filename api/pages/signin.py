"""Signing in and out of the workspace and the console.

    GET  /login    site, username, password and (for accounts that use one) the
                   authenticator code; `next` says where to go afterwards
    POST /login    checks them exactly as POST /api/v1/auth/login does, then keeps the
                   session in an HttpOnly cookie and goes on to the user's home page
    POST /logout   ends the session (the page's idle timer posts here too)

Errors re-render the form with an error summary; the password is never put back.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.auth import cookie_token, csrf_ok, panel_token
from api.pages import cookies, csrf
from api.pages import session as page_session
from api.pages.render import render
from api.pages.web import forbidden_page, page, rate_limit, read_form, services
from core import chat, logins, sessions
from core.actors import Role
from core.errors import AccountDisabled, InvalidCredentials
from core.mfa import MfaRequired

LOGIN = "login"
# The sign-in form's CSRF token is bound to a random value in a SameSite=Strict cookie of
# its own, so a token fetched by someone else cannot sign this browser in as them.
_LOGIN_COOKIE = "sf_login"
_FRAMED_LOGIN_COOKIE = "sf_panel_login"  # the agent panel's, in a chat console's frame
_REASONS = {
    "ended": "Your session has ended. Please sign in again.",
    "idle": "You were signed out because the page was left idle.",
    "signed_out": "You have signed out.",
    "password_changed": "Your password has been changed and every session has ended. "
    "Please sign in with the new password.",
}
_TEXT_MAX = 150


def _browser_binding(request: Request, *, framed: bool = False) -> str | None:
    base = _FRAMED_LOGIN_COOKIE if framed else _LOGIN_COOKIE
    value = request.cookies.get(cookies.name(services(request).settings, base))
    if not value or len(value) > 100:
        return None
    return hashlib.sha256(value.encode()).hexdigest()


def _clean(value: object, limit: int = _TEXT_MAX) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return text if len(text) <= limit else ""


def _login_page(
    request: Request,
    *,
    site_id: str,
    username: str = "",
    next_path: str | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    return sign_in_page(
        request,
        "login.html",
        site_id=site_id,
        username=username,
        next_path=next_path,
        errors=errors,
        problem=problem,
        status_code=status_code,
        notice=_REASONS.get(request.query_params.get("reason", "")),
    )


def sign_in_page(
    request: Request,
    template: str,
    *,
    site_id: str,
    username: str = "",
    next_path: str | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
    framed: bool = False,
    **context: Any,
) -> Response:
    """A page with the sign-in form: its CSRF token is bound to this browser through a
    cookie of its own (`framed`: the agent panel's, in a chat console's frame)."""
    svc = services(request)
    rt = svc.rt
    fresh = None
    binding = _browser_binding(request, framed=framed)
    if binding is None:
        fresh = secrets.token_urlsafe(24)
        binding = hashlib.sha256(fresh.encode()).hexdigest()
    errors = errors or {}
    summary: list[dict[str, Any]] = [
        {"message": message, "href": f"#login-{name}"} for name, message in errors.items()
    ]
    if problem:
        summary.append({"message": problem, "href": None})
    response = render(
        request,
        template,
        status_code=status_code,
        csrf=csrf.issue(rt, LOGIN, binding),
        site_id=site_id,
        username=username,
        next_path=next_path or "",
        errors=errors,
        summary=summary,
        **context,
    )
    if fresh is not None:
        base = _FRAMED_LOGIN_COOKIE if framed else _LOGIN_COOKIE
        cookies.keep(response, svc.settings, base, fresh, framed=framed)
    return response


@page
async def login_page(request: Request) -> Response:
    svc = services(request)

    def work() -> Response:
        actor = page_session.page_actor(request, svc.rt, svc.settings)
        next_path = page_session.local_path(request.query_params.get("next"))
        if actor is not None:
            return RedirectResponse(next_path or page_session.home_of(actor), status_code=303)
        site = _clean(request.query_params.get("site"), 64) or chat.default_demo_site(svc.rt)
        return _login_page(request, site_id=site or "", next_path=next_path)

    return await run_in_threadpool(work)


@page
async def login(request: Request) -> Response:
    await rate_limit(request, "login")
    svc = services(request)
    posted = await read_form(request)
    site_id, username = _clean(posted.get("site"), 64), _clean(posted.get("username"))
    if site_id and username:  # as POST /api/v1/auth/login counts them
        await svc.limiter.check_login(site_id, username)

    def work() -> Response:
        next_path = page_session.local_path(posted.get("next"))

        def again(status_code: int, **shown: Any) -> Response:
            return _login_page(
                request,
                site_id=site_id,
                username=username,
                next_path=next_path,
                status_code=status_code,
                **shown,
            )

        outcome = checked_sign_in(request, posted, site_id, username)
        if isinstance(outcome, Response):
            return outcome
        if isinstance(outcome, Refusal):
            return again(outcome.status, errors=outcome.errors, problem=outcome.problem)
        home = next_path or page_session.home_of_role(Role(outcome["user"]["role"]))
        response = RedirectResponse(home, status_code=303)
        page_session.remember(response, svc.settings, outcome["token"])
        return response

    return await run_in_threadpool(work)


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in was refused, as the form shows it."""

    status: int
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def checked_sign_in(
    request: Request, posted: dict[str, str], site_id: str, username: str, *, framed: bool = False
) -> dict[str, Any] | Refusal | Response:
    """Check a posted sign-in exactly as POST /api/v1/auth/login does: the new session
    (`log_in`'s answer), the refusal to show on the form, or the refused page (CSRF). A
    session this browser held before ends: one browser, one session."""
    svc = services(request)
    binding = _browser_binding(request, framed=framed)
    if binding is None or not csrf.verify(svc.rt, LOGIN, binding, posted.get("csrf")):
        return forbidden_page(request)
    password = posted.get("password", "")
    code = _clean(posted.get("totp"), 16).replace(" ", "")
    errors = {}
    if not site_id:
        errors["site"] = "Enter your site id."
    if not username:
        errors["username"] = "Enter your username."
    if not password or len(password) > 1024:
        errors["password"] = "Enter your password."  # noqa: S105 (a message)
    if errors:
        return Refusal(422, errors)
    try:
        result = logins.log_in(svc.rt, site_id, username, password, code or None)
    except MfaRequired:
        return Refusal(401, {"totp": "Enter the 6-digit code from your authenticator app."})
    except InvalidCredentials:
        return Refusal(401, problem="The site id, username, password or code is not right.")
    except AccountDisabled:
        return Refusal(423, problem=AccountDisabled.default_message)
    previous = (panel_token if framed else cookie_token)(request, svc.settings)
    if previous is not None:
        sessions.end_session(svc.rt, previous)
    return result


@page
async def logout(request: Request) -> Response:
    svc = services(request)
    posted = await read_form(request)

    def work() -> Response:
        actor = page_session.page_actor(request, svc.rt, svc.settings)
        reason = "idle" if posted.get("reason") == "idle" else "signed_out"
        if actor is not None:
            if not csrf_ok(svc.rt, actor, posted.get("csrf")):
                return forbidden_page(request)
            token = cookie_token(request, svc.settings)
            assert token is not None
            sessions.end_session(svc.rt, token)
        response = RedirectResponse(f"/login?reason={reason}", status_code=303)
        # A cross-site post arrives without the SameSite=Strict cookie: then there is
        # nothing of ours to clear, and clearing anyway would sign a stranger's victim out.
        if cookie_token(request, svc.settings) is not None:
            page_session.forget(response, svc.settings)
        return response

    return await run_in_threadpool(work)
