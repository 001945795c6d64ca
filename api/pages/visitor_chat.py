"""The demo chat window: what a visitor sees of a chat platform's widget.

    GET  /chat            start a chat, or the chat itself once started
    POST /chat/start      a conversation with an agent, and the visitor's chat token
    POST /chat/messages   say something (plain form post; the page's script does the same
                          over /api/v1/chat/messages and listens on its SSE stream)
    POST /chat/leave      forget the chat in this browser

The chat token sits in an HttpOnly, SameSite=Strict cookie; form posts carry a CSRF token
bound to it, and so do the script's JSON calls (X-CSRF-Token).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api import i18n
from api.i18n import N_
from api.pages import cookies, csrf
from api.pages.render import render
from api.pages.visitor_form import site_language, visitor_error, visitor_language
from api.pages.visitor_texts import chat_script_texts, system_text
from api.pages.web import forbidden_page, page, rate_limit, read_form, services
from configs import Settings
from core import chat
from core.errors import ConversationClosed, NotFound, Unauthenticated, ValidationFailed

START, CHAT = "chat-start", "chat"
_ID_MAX = 64


_COOKIE = "sf_chat"


def cookie_name(settings: Settings) -> str:
    return cookies.name(settings, _COOKIE)


def chat_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(services(request).settings))


def _visitor(request: Request) -> chat.Visitor | None:
    token = chat_token(request)
    if token is None:
        return None
    try:
        return chat.resolve_visitor(services(request).rt, token)
    except Unauthenticated:
        return None


def _short(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if 0 < len(value) <= _ID_MAX else None


def _demo_off(request: Request) -> Response | None:
    # The demo stands in for a chat platform; production has a real one.
    if not services(request).settings.is_production:
        return None
    return visitor_error(
        request, 404, N_("Not here"), N_("The demo chat is not available in production.")
    )


@page
async def window(request: Request) -> Response:
    rt = services(request).rt
    if (off := _demo_off(request)) is not None:
        return off

    def work() -> Response:
        visitor = _visitor(request)
        if visitor is None:
            site = _short(request.query_params.get("site")) or chat.default_demo_site(rt)
            return render(
                request,
                "chat_start.html",
                language=visitor_language(request, None, site_language(rt, site)),
                csrf=csrf.issue(rt, START, "start"),
                site_id=site,
                agent_id=_short(request.query_params.get("agent")),
            )
        state = chat.chat_state(rt, visitor)
        language = visitor_language(request, None, site_language(rt, visitor.site_id))
        with i18n.speaking(language):
            texts = chat_script_texts()
        return render(
            request,
            "chat_window.html",
            language=language,
            csrf=csrf.issue(rt, CHAT, visitor.token_hash),
            script_texts=texts,
            system_text=system_text,
            notice=request.query_params.get("notice"),
            **state,
        )

    return await run_in_threadpool(work)


@page
async def start(request: Request) -> Response:
    await rate_limit(request)
    if (off := _demo_off(request)) is not None:
        return off
    svc = services(request)
    posted = await read_form(request)

    def work() -> Response:
        site_default = site_language(svc.rt, posted.get("site"))
        with i18n.speaking(visitor_language(request, None, site_default)):
            return _started()

    def _started() -> Response:
        if not csrf.verify(svc.rt, START, "start", posted.get("csrf")):
            return forbidden_page(request)
        site_id = _short(posted.get("site"))
        if site_id is None:
            return visitor_error(
                request,
                404,
                N_("No such site"),
                N_("Say which site to chat with (its site id)."),
                language=i18n.current(),
            )
        try:
            started = chat.start_demo_chat(
                svc.rt, site_id, posted.get("name"), _short(posted.get("agent"))
            )
        except NotFound:
            return visitor_error(
                request,
                404,
                N_("No such site"),
                N_("There is no site or agent by that id here."),
                language=i18n.current(),
            )
        response = RedirectResponse("/chat", status_code=303)
        cookies.keep(response, svc.settings, _COOKIE, started["token"])
        return response

    return await run_in_threadpool(work)


@page
async def say(request: Request) -> Response:
    await rate_limit(request)
    rt = services(request).rt
    posted = await read_form(request)

    def work() -> Response:
        visitor = _visitor(request)
        if visitor is None or not csrf.verify(rt, CHAT, visitor.token_hash, posted.get("csrf")):
            return forbidden_page(request)
        try:
            sent = chat.post_visitor_message(rt, visitor, posted.get("text", "").strip())
        except ValidationFailed:
            return RedirectResponse("/chat?notice=length", status_code=303)
        except ConversationClosed:
            return RedirectResponse("/chat?notice=closed", status_code=303)
        notice = "?notice=card" if sent["card_number_masked"] else ""
        return RedirectResponse(f"/chat{notice}#chat-form", status_code=303)

    return await run_in_threadpool(work)


@page
async def leave(request: Request) -> Response:
    svc = services(request)
    posted = await read_form(request)

    def work() -> Response:
        visitor = _visitor(request)
        token = chat_token(request)
        if visitor is None or token is None:
            return RedirectResponse("/chat", status_code=303)
        if not csrf.verify(svc.rt, CHAT, visitor.token_hash, posted.get("csrf")):
            return forbidden_page(request)
        chat.end_visitor(svc.rt, token)
        response = RedirectResponse("/chat", status_code=303)
        cookies.drop(response, svc.settings, _COOKIE)
        return response

    return await run_in_threadpool(work)
