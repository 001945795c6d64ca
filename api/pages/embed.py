"""The agent's panel inside a chat console's sidebar (a Chatwoot Dashboard App, or any
console that frames a page): the workspace's secure forms for one conversation.

    GET  /embed/agent/{site_id}          the panel; `?external_id=` names the console's
                                         conversation (Chatwoot's `chatwoot:<n>`), else its
                                         script asks the console (postMessage appContext)
    POST /embed/agent/{site_id}/login    sign in inside the frame (our account, password,
                                         and authenticator code)
    POST /embed/agent/{site_id}/logout   sign out of the panel

Only the site's `agent_frame_ancestors` may frame it (CSP); its cookies are the framed
kind (api.pages.cookies: SameSite=None, Secure, Partitioned). What the console says is a
hint, never an identity: the agent signs in with our own account, and the conversation it
names is shown only to that conversation's assigned agent. Sending, viewing and forwarding
are the workspace's own scripts (static/agent-forms.js, agent-reveal.js, agent-forward.js)
calling the same API under the same rules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api import i18n
from api.auth import Access, Setup, csrf_ok, panel_token, setup_blocks
from api.pages import session as page_session
from api.pages.agent import STATUS_WORDS
from api.pages.render import error_page, page_headers, render
from api.pages.signin import Refusal, checked_sign_in, sign_in_page
from api.pages.web import forbidden_page, page, rate_limit, read_form, services
from configs import Settings
from core import chatwoot, sessions, workspace
from core import conversations as conv
from core.actors import FORWARD_PAYMENTS, USE_SECURE_FORMS, Actor, Role
from core.errors import Forbidden, NotFound, SessionExpired, Unauthenticated
from core.forms import catalogue
from core.policies import site_policies
from core.runtime import Runtime
from core.sessions import resolve_session
from core.text import is_id, one_line

_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")
_AGENTS_ONLY = "This panel is for the agents of this site: sign in as one."
_SETUP_WORDS = {
    Setup.PASSWORD: "An administrator set your password. Choose your own in the Secure forms "
    "workspace first (sign in there, outside this console), then reload this panel.",
    Setup.MFA: "Your site asks you to set up two-step sign-in. Do it in the Secure forms "
    "workspace first (sign in there, outside this console), then reload this panel.",
}


def _panel_actor(request: Request, rt: Runtime, settings: Settings) -> Actor | None:
    """Who is signed in to the panel: its own session only. A console on the same site as
    this service also sends the workspace's cookie, which is another sign-in."""
    token = panel_token(request, settings)
    if token is None:
        return None
    try:
        return resolve_session(rt, token)
    except (Unauthenticated, SessionExpired):
        return None


def _cookies_note(public_url: str) -> dict[str, str] | None:
    """What the panel says when the browser may not keep its sign-in in a frame."""
    parts = urlsplit(public_url)
    if parts.scheme == "https":
        return None
    if (parts.hostname or "") in _LOOPBACK:
        return {
            "kind": "info",
            "text": "Development: this service runs over http on this machine. Browsers treat "
            "localhost as secure, so signing in here works; anywhere else the panel needs "
            "https.",
        }
    return {
        "kind": "error",
        "text": "Signing in here cannot work: this service runs over http, not https. Inside "
        "another site's frame a browser keeps a sign-in only in a cookie marked Secure, "
        "SameSite=None and Partitioned, and it accepts Secure cookies only over https. "
        "Serve Secure forms over https (public_url), then reload.",
    }


def _external_id(request: Request) -> str | None:
    value = request.query_params.get("external_id")
    if value and len(value) <= conv.MAX_EXTERNAL_ID and one_line(value):
        return value
    return None


def _site(request: Request) -> str | None:
    site_id = request.path_params["site_id"]
    return site_id if is_id(site_id) else None


def _panel_url(site_id: str, external_id: str | None) -> str:
    query = f"?external_id={quote(external_id, safe='')}" if external_id else ""
    return f"/embed/agent/{site_id}{query}"


def _conversation(rt: Runtime, actor: Actor, external_id: str | None) -> dict[str, Any]:
    """The console's conversation as the panel shows it; or why it can't be shown."""
    if external_id is None:
        return {"chat": None, "problem": None}
    found = conv.by_external_id(rt, actor.site_id, external_id)
    if found is None:
        return {
            "chat": None,
            "problem": "Secure forms does not know this conversation yet. If it was just "
            "created, wait a moment and reload; otherwise ask an administrator to check the "
            "chat platform's webhook.",
        }
    try:
        detail = workspace.conversation_detail(rt, actor, found.id)
    except (NotFound, Forbidden):
        return {
            "chat": None,
            "problem": "This conversation is not assigned to you in Secure forms, so you "
            "cannot send secure forms in it or see its answers. Only its assigned agent can.",
        }
    problem = None
    if detail["status"] != conv.ACTIVE:
        problem = "This conversation has ended, so no more forms can be sent in it."
    elif not detail["assigned"]:
        problem = (
            "This conversation was transferred to another agent, who can send forms in it now."
        )
    return {"chat": detail, "problem": problem}


def _panel(request: Request, rt: Runtime, actor: Actor, site_id: str, ancestors: Any) -> Response:
    external_id = _external_id(request)
    shown = _conversation(rt, actor, external_id)
    chat = shown["chat"]
    policies = site_policies(rt, site_id)
    can_send = bool(
        chat
        and chat["assigned"]
        and chat["status"] == conv.ACTIVE
        and bool({USE_SECURE_FORMS, FORWARD_PAYMENTS} & actor.permissions)
    )
    return render(
        request,
        "embed_agent.html",
        frame_ancestors=ancestors,
        **{**page_session.layout(rt, actor, ""), "nav": []},
        logout_action=f"/embed/agent/{site_id}/logout",
        site_id=site_id,
        origins=list(policies.agent_frame_ancestors),
        external_id=external_id or "",
        chat=chat,
        problem=shown["problem"],
        cookies_note=_cookies_note(services(request).settings.public_url),
        active=bool(chat and chat["status"] == conv.ACTIVE),
        can_send=can_send,
        can_reveal=USE_SECURE_FORMS in actor.permissions,
        can_forward=FORWARD_PAYMENTS in actor.permissions,
        forms=catalogue.list_forms(rt, actor) if can_send else [],
        languages=i18n.choices(),
        status_words=STATUS_WORDS,
        notice=None,
        embedded=True,
        relayed=bool(chat) and chatwoot.relays(rt, site_id, chat["id"]),
        after=workspace.latest_event_id(rt, actor),
    )


def _ancestors(rt: Runtime, site_id: str | None) -> tuple[str, ...] | None:
    if site_id is None:
        return None
    try:
        return site_policies(rt, site_id).agent_frame_ancestors
    except NotFound:
        return None


def _unknown_site(request: Request) -> Response:
    return error_page(
        request,
        404,
        "No such site",
        "This panel's address names no site of this service. Check the Dashboard App's URL: "
        "/embed/agent/ then your site id.",
    )


def _sign_in(request: Request, site_id: str, ancestors: Any, **shown: Any) -> Response:
    return sign_in_page(
        request,
        "embed_signin.html",
        site_id=site_id,
        framed=True,
        frame_ancestors=ancestors,
        fixed_site=True,
        origins=list(ancestors),
        cookies_note=_cookies_note(services(request).settings.public_url),
        **shown,
    )


@page
async def panel(request: Request) -> Response:
    svc = services(request)

    def work() -> Response:
        site_id = _site(request)
        ancestors = _ancestors(svc.rt, site_id)
        if site_id is None or ancestors is None:
            return _unknown_site(request)
        actor = _panel_actor(request, svc.rt, svc.settings)
        if actor is None or actor.site_id != site_id or actor.role != Role.AGENT:
            problem = _AGENTS_ONLY if actor is not None else None
            return _sign_in(
                request,
                site_id,
                ancestors,
                next_path=_panel_url(site_id, _external_id(request)),
                problem=problem,
            )
        step = setup_blocks(svc.rt, Access(), actor, f"GET {request.url.path}")
        if step is not None:
            return _sign_in(request, site_id, ancestors, problem=_SETUP_WORDS[step])
        return _panel(request, svc.rt, actor, site_id, ancestors)

    return await run_in_threadpool(work)


@page
async def login(request: Request) -> Response:
    await rate_limit(request, "login")
    svc = services(request)
    posted = await read_form(request)
    site_id = _site(request)
    username = posted.get("username", "").strip()[:150]
    if site_id is not None and username:
        await svc.limiter.check_login(site_id, username)

    def work() -> Response:
        ancestors = _ancestors(svc.rt, site_id)
        if site_id is None or ancestors is None:
            return _unknown_site(request)
        wanted = page_session.local_path(posted.get("next"))
        next_path = wanted if wanted and wanted.startswith("/embed/agent/") else None
        next_path = next_path or _panel_url(site_id, None)
        outcome = checked_sign_in(request, posted, site_id, username, framed=True)
        if isinstance(outcome, Response):  # the refused page, shown in the frame
            outcome.headers.update(page_headers(ancestors))
            del outcome.headers["x-frame-options"]
            return outcome
        if isinstance(outcome, Refusal):
            return _sign_in(
                request,
                site_id,
                ancestors,
                username=username,
                next_path=next_path,
                status_code=outcome.status,
                errors=outcome.errors,
                problem=outcome.problem,
            )
        if outcome["user"]["role"] != Role.AGENT.value:
            # Refused before any cookie: a console's frame holds an agent's session only.
            sessions.end_session(svc.rt, outcome["token"])
            return _sign_in(
                request,
                site_id,
                ancestors,
                username=username,
                next_path=next_path,
                status_code=403,
                problem=_AGENTS_ONLY,
            )
        response = RedirectResponse(next_path, status_code=303)
        page_session.remember(response, svc.settings, outcome["token"], framed=True)
        return response

    return await run_in_threadpool(work)


@page
async def logout(request: Request) -> Response:
    svc = services(request)
    posted = await read_form(request)

    def work() -> Response:
        site_id = _site(request) or ""
        actor = _panel_actor(request, svc.rt, svc.settings)
        if actor is not None:
            if not csrf_ok(svc.rt, actor, posted.get("csrf")):
                return forbidden_page(request)
            token = panel_token(request, svc.settings)
            assert token is not None
            sessions.end_session(svc.rt, token)
        response = RedirectResponse(_panel_url(site_id, None), status_code=303)
        page_session.forget(response, svc.settings, framed=True)
        return response

    return await run_in_threadpool(work)


def routes() -> list[BaseRoute]:
    return [
        Route("/embed/agent/{site_id}", panel, methods=["GET"]),
        Route("/embed/agent/{site_id}/login", login, methods=["POST"]),
        Route("/embed/agent/{site_id}/logout", logout, methods=["POST"]),
    ]
