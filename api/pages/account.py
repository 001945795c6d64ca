"""The signed-in user's own account (/account): who they are, two-step sign-in, password.

    GET  /account               who you are and whether two-step sign-in is on, with a
                                banner when the site requires it for your role and it is off
    POST /account/mfa/setup     starts enrolment once the current password is given again:
                                the secret, the otpauth:// URI and a field for the first code
    POST /account/mfa/confirm   checks that code; the recovery codes are shown once
    POST /account/mfa/codes     new recovery codes (shown once) for the current password
    POST /account/password      changes the password; core ends every session, this one
                                included, so the user goes on to /login

The TOTP secret and the recovery codes only ever travel in a response body: never in a
URL, a redirect or a log line. That is why the two MFA steps answer pages rather than
redirecting. The setup page posts its secret back in the form body only so a wrong code
can show the same secret again; what gets confirmed is the secret core keeps pending.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api.auth import EVERY_SETUP, Setup
from api.pages import session as page_session
from api.pages.render import render
from api.pages.session import Posted, signed_in_page
from api.pages.web import page, services
from core import credentials, mfa, users
from core.actors import Actor
from core.credentials import WrongCurrentPassword
from core.errors import Conflict, PasswordPolicy
from core.passwords import HISTORY_DEPTH
from core.policies import site_policies
from core.runtime import Runtime

PASSWORD_MAX = 1024
_SECRET = re.compile(r"[A-Z2-7]{16,128}")  # base32, as core.mfa.new_secret makes them
_ENROLLING = frozenset({Setup.MFA})  # a password an admin chose is replaced first
_NOTICES = {
    "mfa_on": "Two-step sign-in is already on. If you have lost your authenticator app, "
    "ask an administrator to reset it.",
    "mfa_restart": "That set-up was replaced or has ended. Please start again.",
}
_CURRENT, _NEW, _CONFIRM = "current_password", "new_password", "confirm_password"
# The password asked for again before an MFA change; one name per form, so an error shows
# beside the form that was sent.
_MFA_PASSWORD, _CODES_PASSWORD = "mfa_current_password", "codes_current_password"
# The error summary links each message to its field by these ids.
_FIELD_IDS = {
    _CURRENT: "password-current",
    _NEW: "password-new",
    _CONFIRM: "password-confirm",
    _MFA_PASSWORD: "mfa-password",
    _CODES_PASSWORD: "codes-password",
    "totp": "mfa-code",
}


def _summary(errors: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"message": message, "href": f"#{_FIELD_IDS[name]}"} for name, message in errors.items()
    ]


def _layout(rt: Runtime, actor: Actor) -> dict[str, Any]:
    return dict(page_session.layout(rt, actor, "/account"))


def _mfa_required(rt: Runtime, actor: Actor, mfa_enabled: bool) -> bool:
    return not mfa_enabled and actor.role in site_policies(rt, actor.site_id).mfa_required_roles


def _grouped(secret: str) -> str:
    """ABCD EFGH …: easier to read aloud or type into an authenticator by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _account_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    me = users.whoami(rt, actor)
    errors = errors or {}
    required = _mfa_required(rt, actor, me["mfa_enabled"])
    sent_for = request.query_params.get("required")
    return render(
        request,
        "account.html",
        status_code=status_code,
        **_layout(rt, actor),
        user=me,
        role_name=page_session.ROLE_NAMES.get(me["role"], me["role"]),
        mfa_required=required,
        password_required=actor.must_change_password,
        # Sent here by another page (api.auth.Setup): its banner takes focus, unless errors do.
        focus_banner=required and not errors and sent_for in ("1", "mfa"),
        focus_password_banner=actor.must_change_password and not errors,
        notice=_NOTICES.get(request.query_params.get("notice", "")),
        errors=errors,
        summary=_summary(errors),
        password_min_length=site_policies(rt, actor.site_id).password_min_length,
        history_depth=HISTORY_DEPTH,
    )


def _setup_page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    secret: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    me = users.whoami(rt, actor)
    errors = errors or {}
    return render(
        request,
        "account_mfa_setup.html",
        status_code=status_code,
        **_layout(rt, actor),
        secret=secret,
        secret_grouped=_grouped(secret),
        otpauth_uri=mfa.otpauth_uri(secret, me["username"]),
        errors=errors,
        summary=_summary(errors),
    )


@page
@signed_in_page(during_setup=EVERY_SETUP)
def account(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    return _account_page(request, rt, actor)


def _reauthenticated(
    request: Request,
    rt: Runtime,
    actor: Actor,
    posted: Posted,
    name: str,
    act: Callable[[str], Response],
) -> Response:
    """Run `act` with the password given again in field `name`, or show the account page
    saying what's wrong with it.

    Core counts a wrong one toward the failed-login limit; at the limit it raises
    AccountDisabled, which @page answers as a page, the sessions having ended.
    """
    password = posted.get(name, "")
    if not password or len(password) > PASSWORD_MAX:
        errors = {name: "Enter your current password."}
        return _account_page(request, rt, actor, errors=errors, status_code=422)
    try:
        return act(password)
    except WrongCurrentPassword:
        errors = {name: "That is not your current password."}
        return _account_page(request, rt, actor, errors=errors, status_code=403)


@page
@signed_in_page(posts=True, limit="login", during_setup=_ENROLLING)
def mfa_setup(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    def start(password: str) -> Response:
        try:
            started = mfa.enroll(rt, actor, password)
        except Conflict:
            return RedirectResponse("/account?notice=mfa_on", status_code=303)
        return _setup_page(request, rt, actor, started["secret"])

    return _reauthenticated(request, rt, actor, posted, _MFA_PASSWORD, start)


@page
@signed_in_page(posts=True, limit="login")
def mfa_codes(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    def replace(password: str) -> Response:
        try:
            made = mfa.new_recovery_codes(rt, actor, password)
        except Conflict:
            return RedirectResponse("/account?notice=mfa_restart", status_code=303)
        return render(
            request,
            "account_mfa_codes.html",
            **_layout(rt, actor),
            recovery_codes=made["recovery_codes"],
            home=page_session.home_of(actor),
            replaced=True,
        )

    return _reauthenticated(request, rt, actor, posted, _CODES_PASSWORD, replace)


@page
@signed_in_page(posts=True, limit="login", during_setup=_ENROLLING)
def mfa_confirm(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    code = posted.get("totp", "").strip().replace(" ", "")
    shown = posted.get("secret", "")
    if not _SECRET.fullmatch(shown):
        # Not a page of ours: start again rather than show whatever came back.
        return RedirectResponse("/account?notice=mfa_restart", status_code=303)
    if not code:
        return _setup_page(
            request,
            rt,
            actor,
            shown,
            errors={"totp": "Enter the 6-digit code your authenticator app shows now."},
            status_code=422,
        )
    try:
        confirmed = mfa.confirm(rt, actor, code[:16])
    except mfa.InvalidTotp:
        return _setup_page(
            request,
            rt,
            actor,
            shown,
            errors={
                "totp": "That is not the current code. Check that the app shows this "
                "account and that the phone's clock is right, then enter the new code."
            },
            status_code=422,
        )
    except Conflict:
        on = users.whoami(rt, actor)["mfa_enabled"]
        notice = "mfa_on" if on else "mfa_restart"
        return RedirectResponse(f"/account?notice={notice}", status_code=303)
    return render(
        request,
        "account_mfa_codes.html",
        **_layout(rt, actor),
        recovery_codes=confirmed["recovery_codes"],
        home=page_session.home_of(actor),
        replaced=False,
    )


def _password_errors(posted: dict[str, str]) -> dict[str, str]:
    current, new, confirm = (posted.get(name, "") for name in (_CURRENT, _NEW, _CONFIRM))
    errors = {}
    if not current or len(current) > PASSWORD_MAX:
        errors[_CURRENT] = "Enter your current password."
    if not new:
        errors[_NEW] = "Enter a new password."
    elif len(new) > PASSWORD_MAX:
        errors[_NEW] = f"The new password must have at most {PASSWORD_MAX} characters."
    if not confirm:
        errors[_CONFIRM] = "Enter the new password again."
    elif new and confirm != new:
        errors[_CONFIRM] = "The two new passwords are not the same."
    return errors


@page
@signed_in_page(posts=True, limit="login", during_setup=EVERY_SETUP)
def change_password(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    errors = _password_errors(posted)
    if errors:
        return _account_page(request, rt, actor, errors=errors, status_code=422)
    try:
        credentials.change_password(rt, actor, posted[_CURRENT], posted[_NEW])
    except WrongCurrentPassword:
        return _account_page(
            request,
            rt,
            actor,
            errors={_CURRENT: "That is not your current password."},
            status_code=403,
        )
    except PasswordPolicy as exc:
        # core's message names the rule that was broken, never the password.
        return _account_page(request, rt, actor, errors={_NEW: exc.message}, status_code=422)
    # The site id is no secret, and typing it again is a chore.
    to_login = f"/login?reason=password_changed&site={quote(actor.site_id, safe='')}"
    response = RedirectResponse(to_login, status_code=303)
    page_session.forget(response, services(request).settings)
    return response


async def back_to_account(request: Request) -> Response:
    """A form action opened as a page (typed in, or a sign-in's `next`): show the form."""
    return RedirectResponse("/account", status_code=303)


def routes() -> list[BaseRoute]:
    actions = (
        "/account/mfa/setup",
        "/account/mfa/confirm",
        "/account/mfa/codes",
        "/account/password",
    )
    return [
        Route("/account", account, methods=["GET"]),
        *(Route(path, back_to_account, methods=["GET"]) for path in actions),
        Route("/account/mfa/setup", mfa_setup, methods=["POST"]),
        Route("/account/mfa/confirm", mfa_confirm, methods=["POST"]),
        Route("/account/mfa/codes", mfa_codes, methods=["POST"]),
        Route("/account/password", change_password, methods=["POST"]),
    ]
