"""The visitor's secure form, behind the `visitor_url` an agent's form request answers.

    GET  /f/{otk}       the form's title and an "Open secure form" button; spends nothing,
                        so a chat app's link previewer cannot burn the link
    POST /f/{otk}       spends the open key and shows the form, its submit key hidden in it
    POST /form/submit   plain form post (works without JavaScript): errors re-render the
                        form; success redirects to a confirmation that carries no secret,
                        so refresh and back cannot send the answers twice
    GET  /form/done     that confirmation

The submission is the one use case POST /api/v1/visitor/submit calls too
(`core.submit.submit_answers`): validate and spend the key, publish, and give the key
back if the queue refused it. This page only turns its errors into pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api import i18n
from api.i18n import N_
from api.metrics import counted_submit
from api.pages import csrf
from api.pages.brand import brand_view
from api.pages.fields import answers, field_views
from api.pages.render import error_page, render
from api.pages.visitor_texts import countdown_units, script_texts, time_left
from api.pages.web import forbidden_page, page, rate_limit, read_form, services
from core import chat, form_requests
from core.clock import rfc3339, utcnow
from core.errors import InvalidOrExpired, NotFound, Unavailable, ValidationFailed
from core.policies import site_policies
from core.runtime import Runtime

OPEN, FORM = "visitor-open", "visitor-form"


def _key_hash(otk: str) -> str:
    return hashlib.sha256(otk.encode()).hexdigest()


def frame_ancestors(rt: Runtime, site_id: object) -> tuple[str, ...]:
    """The origins a site lets embed its visitor form; none for an unknown site."""
    if not isinstance(site_id, str) or not 0 < len(site_id) <= 64:
        return ()
    try:
        return site_policies(rt, site_id).frame_ancestors
    except NotFound:
        return ()


def site_language(rt: Runtime, site_id: object) -> str:
    """The site's `default_language` policy; English for an unknown site."""
    if not isinstance(site_id, str) or not 0 < len(site_id) <= 64:
        return i18n.DEFAULT
    try:
        return site_policies(rt, site_id).default_language
    except NotFound:
        return i18n.DEFAULT


def visitor_language(
    request: Request, requested: str | None = None, site_default: str = i18n.DEFAULT
) -> str:
    """A visitor page's language: the one the form's sender chose, then the browser's
    Accept-Language, then the site's default (api.i18n.choose)."""
    return i18n.choose(requested, request.headers.get("accept-language"), site_default)


def _language_of(request: Request, rt: Runtime, form: chat.FormLink | chat.OpenForm) -> str:
    return visitor_language(request, form.language, site_language(rt, form.site_id))


def visitor_error(
    request: Request,
    status: int,
    heading: str,
    message: str,
    advice: str | None = None,
    language: str | None = None,
    **page: Any,
) -> Response:
    """An error page in `language` (else the browser's); its texts are catalogue ids."""
    language = language or visitor_language(request)
    with i18n.speaking(language):
        _ = i18n.gettext_
        said = _(advice) if advice else None
        return error_page(
            request, status, _(heading), _(message), advice=said, language=language, **page
        )


def expired_page(
    request: Request,
    ancestors: Sequence[str] = (),
    brand: Mapping[str, Any] | None = None,
    language: str | None = None,
) -> Response:
    return visitor_error(
        request,
        410,
        N_("This link has expired"),
        N_("This secure form link has already been used, or it has expired."),
        N_(
            "If you have sent your answers already, there is nothing more to do. "
            "Otherwise go back to your chat and ask the agent to send the form again."
        ),
        language=language,
        frame_ancestors=ancestors,
        brand=brand,
    )


def _expired_for(request: Request, rt: Runtime, site_id: object) -> Response:
    """The expired page, branded and framed for the site when the request names one."""
    language = visitor_language(request, None, site_language(rt, site_id))
    return expired_page(request, frame_ancestors(rt, site_id), brand_view(rt, site_id), language)


@page
async def link(request: Request) -> Response:
    await rate_limit(request)
    rt = services(request).rt
    otk = request.path_params["otk"]
    try:
        found = await run_in_threadpool(chat.form_link, rt, otk)
    except InvalidOrExpired:
        return expired_page(request)
    ancestors = await run_in_threadpool(frame_ancestors, rt, found.site_id)
    language = await run_in_threadpool(_language_of, request, rt, found)
    with i18n.speaking(language):
        time_to_fill = time_left(max(60, services(request).settings.otk_ttl_submit_s))
    return render(
        request,
        "visitor_preview.html",
        language=language,
        frame_ancestors=ancestors,
        brand=await run_in_threadpool(brand_view, rt, found.site_id),
        title=found.title,
        form_language=found.form_language,
        action=f"/f/{otk}",
        csrf=await run_in_threadpool(csrf.issue, rt, OPEN, _key_hash(otk)),
        time_to_fill=time_to_fill,
    )


@page
async def open_link(request: Request) -> Response:
    await rate_limit(request)
    rt = services(request).rt
    otk = request.path_params["otk"]
    posted = await read_form(request)

    def work() -> Response:
        if not csrf.verify(rt, OPEN, _key_hash(otk), posted.get("csrf")):
            with i18n.speaking(visitor_language(request)):
                return forbidden_page(request)
        try:
            opened = form_requests.open_request(rt, otk)
            view = chat.open_form(rt, opened["submit_otk"])
        except InvalidOrExpired:
            return expired_page(request)
        with i18n.speaking(_language_of(request, rt, view)):
            return _form_page(request, rt, view, opened["submit_otk"])

    return await run_in_threadpool(work)


@page
async def submit(request: Request) -> Response:
    await rate_limit(request)
    svc = services(request)
    rt = svc.rt
    posted = await read_form(request)
    otk = posted.get("otk", "")
    values = answers(posted)

    def work() -> Response:
        try:
            view = chat.open_form(rt, otk)
        except InvalidOrExpired:
            return _expired_for(request, rt, posted.get("site"))
        with i18n.speaking(_language_of(request, rt, view)):  # the answers' messages too
            return _answered(view)

    def _answered(view: chat.OpenForm) -> Response:
        if not csrf.verify(rt, FORM, view.request_id, posted.get("csrf")):
            return forbidden_page(request)
        if posted.get("action") == "extend":
            return _extend(request, rt, otk, values)
        try:
            counted_submit(rt, svc.publish, otk, values)
        except ValidationFailed as exc:
            return _form_page(request, rt, view, otk, values=values, errors=exc.fields or {})
        except InvalidOrExpired:
            return expired_page(
                request,
                frame_ancestors(rt, view.site_id),
                brand_view(rt, view.site_id),
                i18n.current(),
            )
        except Unavailable:
            return _form_page(
                request,
                rt,
                view,
                otk,
                values=values,
                status_code=503,
                problem=i18n.gettext_(
                    "We could not send your answers just now. Nothing was saved. Please try again."
                ),
            )
        # The confirmation speaks the form's language: the sender's choice goes along.
        chosen = f"&lang={view.language}" if view.language else ""
        return RedirectResponse(f"/form/done?site={view.site_id}{chosen}", status_code=303)

    return await run_in_threadpool(work)


def _extend(request: Request, rt: Runtime, otk: str, values: Mapping[str, str]) -> Response:
    try:
        extended = form_requests.extend(rt, otk)
        view = chat.open_form(rt, extended["submit_otk"])
    except InvalidOrExpired:
        return expired_page(request, language=i18n.current())
    return _form_page(
        request,
        rt,
        view,
        extended["submit_otk"],
        values=values,
        notice=i18n.gettext_(
            "You have %(time)s more. Answers that are kept secret were cleared: "
            "please type them again.",
            time=time_left(rt.settings.otk_ttl_submit_s),
        ),
    )


@page
async def done(request: Request) -> Response:
    rt = services(request).rt
    site_id = request.query_params.get("site")
    ancestors = await run_in_threadpool(frame_ancestors, rt, site_id)
    brand = await run_in_threadpool(brand_view, rt, site_id)
    site_default = await run_in_threadpool(site_language, rt, site_id)
    chosen = request.query_params.get("lang")  # the form's, when its sender chose one
    return render(
        request,
        "visitor_done.html",
        language=visitor_language(request, chosen, site_default),
        frame_ancestors=ancestors,
        brand=brand,
    )


def _summary(view: chat.OpenForm, errors: Mapping[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    declared = {spec.name for spec in view.definition.fields}
    for spec in view.definition.fields:
        if spec.name in errors:
            kind_radios = spec.type == "checkbox" and spec.options
            target = f"f-{spec.name}-1" if kind_radios else f"f-{spec.name}"
            items.append({"message": errors[spec.name], "href": f"#{target}"})
    for name, message in errors.items():
        if name not in declared:
            items.append({"message": message, "href": None})
    return items


def _form_page(
    request: Request,
    rt: Runtime,
    view: chat.OpenForm,
    otk: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
    notice: str | None = None,
    problem: str | None = None,
) -> Response:
    seconds_left = max(0, int((view.expires_at - utcnow()).total_seconds()))
    errors = errors or {}
    return render(
        request,
        "visitor_form.html",
        status_code=422 if errors else status_code,
        frame_ancestors=frame_ancestors(rt, view.site_id),
        brand=brand_view(rt, view.site_id),
        form=view.definition,
        fields=field_views(
            view.definition.fields,
            errors,
            values,
            language=i18n.current(),
            form_language=view.definition.language,
        ),
        summary=_summary(view, errors),
        otk=otk,
        site_id=view.site_id,
        csrf=csrf.issue(rt, FORM, view.request_id),
        expires_at=rfc3339(view.expires_at),
        seconds_left=seconds_left,
        time_left=time_left(seconds_left),
        countdown_units=countdown_units(),
        script_texts=script_texts(),
        language=i18n.current(),
        extensions_left=view.extensions_left,
        notice=notice,
        problem=problem,
    )
