"""The console's secure forms: the list, the editor with the visitor's preview, archiving.

    GET  /admin/forms                 the site's forms, archived ones apart
    GET  /admin/forms/new             the editor with one empty field
    POST /admin/forms/new             an editing step (re-rendered) or save (creates it)
    GET  /admin/forms/{id}            the editor on the current version
    POST /admin/forms/{id}            an editing step, or save: a new version (PUT's rule)
    GET  /admin/forms/{id}/archive    "archive this form?"
    POST /admin/forms/{id}/archive    archives it (DELETE's rule)

Saving goes through core.forms.catalogue, as the JSON API does, so both refuse the same
definitions with the same messages.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api import i18n
from api.pages import admin_form_draft as drafts
from api.pages.admin_form_draft import Draft
from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import ADMIN, console_page, done, error_summary, valid_id, when
from api.pages.fields import field_views
from api.pages.render import fragment
from api.pages.web import page
from core.actors import Actor
from core.clock import rfc3339
from core.errors import Conflict, ValidationFailed
from core.forms import catalogue
from core.runtime import Runtime

SECTION = "/admin/forms"


@page
@console_get(ADMIN)
def list_forms(request: Request, rt: Runtime, actor: Actor) -> Response:
    every = catalogue.list_forms(rt, actor, include_archived=True)
    rows = [{**f, "updated": when(f["updated_at"]), "count": len(f["fields"])} for f in every]
    return console_page(
        request,
        rt,
        actor,
        "admin_forms.html",
        section=SECTION,
        live=[r for r in rows if not r["archived"]],
        archived=[r for r in rows if r["archived"]],
    )


@page
@console_get(ADMIN)
def new_form(request: Request, rt: Runtime, actor: Actor) -> Response:
    return _editor(request, rt, actor, drafts.new_draft(), form_id=None, focus="form-title")


@page
@console_get(ADMIN)
def edit_form(request: Request, rt: Runtime, actor: Actor) -> Response:
    form_id = valid_id(request.path_params["form_id"])
    row, definition = catalogue.current(rt, actor.site_id, form_id)
    return _editor(
        request,
        rt,
        actor,
        drafts.from_definition(definition, row.version),
        form_id=form_id,
        row=row,
    )


@page
@console_post(ADMIN)
def post_form(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    """Every button of the editor posts the whole draft here; only save writes."""
    raw_id = request.path_params.get("form_id")
    form_id = valid_id(raw_id) if raw_id is not None else None
    row = catalogue.current(rt, actor.site_id, form_id)[0] if form_id else None
    draft = drafts.from_posted(posted)
    op = drafts.read_op(posted)
    if op.kind != "save" or (row is not None and row.archived):
        draft, said, focus = drafts.apply(draft, op)
        if op.kind == "preview":
            said, focus = "The preview shows your changes.", "update-preview"
        return _editor(request, rt, actor, draft, form_id=form_id, row=row, said=said, focus=focus)
    return _save(request, rt, actor, draft, form_id, row)


def _save(
    request: Request,
    rt: Runtime,
    actor: Actor,
    draft: Draft,
    form_id: str | None,
    row: Any,
) -> Response:
    if row is not None and draft.version != str(row.version):
        # Someone saved meanwhile: keep this admin's draft and let a second save replace
        # theirs knowingly.
        message = (
            f"This form was changed elsewhere since you opened it; it is now version "
            f"{row.version}. Save again to replace that version with yours, or reload the "
            "page to start from it."
        )
        draft.version = str(row.version)
        return _editor(
            request,
            rt,
            actor,
            draft,
            form_id=form_id,
            row=row,
            status_code=409,
            errors={"version": message},
        )
    payload = drafts.to_payload(draft)
    try:
        if form_id is None:
            made = catalogue.create_form(rt, actor, payload)
            return done(f"/admin/forms/{made['id']}", "form_created")
        catalogue.update_form(rt, actor, form_id, payload)
        return done(f"/admin/forms/{form_id}", "form_saved")
    except ValidationFailed as exc:
        errors = drafts.without_echoes(exc.fields or {"form": exc.message}, draft)
        status = 422
    except Conflict as exc:
        # A name in use is the admin's to change; anything else is about the whole form.
        key = "name" if exc.message.startswith("A form with this name") else "form"
        errors, status = {key: exc.message}, 409
    if "name" in errors and not draft.name:
        draft.name = str(payload["name"])  # show the name that was made from the title
    return _editor(
        request, rt, actor, draft, form_id=form_id, row=row, status_code=status, errors=errors
    )


def _editor(
    request: Request,
    rt: Runtime,
    actor: Actor,
    draft: Draft,
    *,
    form_id: str | None,
    row: Any = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    said: str = "",
    focus: str | None = None,
) -> Response:
    errors = errors or {}
    top, per_field = drafts.split_errors(errors)
    summary = error_summary(
        {k: drafts.summary_message(k, m) for k, m in errors.items()}, drafts.anchor
    )
    top = {k: drafts.plain(m) for k, m in top.items()}
    per_field = {i: {k: drafts.plain(m) for k, m in e.items()} for i, e in per_field.items()}
    if row is None:
        heading = "New form"
    else:
        saved = catalogue.current(rt, actor.site_id, row.id)[1].title
        heading = f"Archived form “{saved}”" if row.archived else f"Edit “{saved}”"
    return console_page(
        request,
        rt,
        actor,
        "admin_form_editor.html",
        section=SECTION,
        status_code=status_code,
        heading=heading,
        form_id=form_id,
        action=f"/admin/forms/{form_id}" if form_id else "/admin/forms/new",
        archived=bool(row is not None and row.archived),
        version=row.version if row is not None else None,
        updated=when(rfc3339(row.updated_at)) if row is not None else "",
        draft=draft,
        type_labels=drafts.TYPE_LABELS,
        top_errors=top,
        field_errors=per_field,
        summary=summary,
        said=said,
        focus="" if summary else (focus or ""),
        languages=i18n.choices(),
        # each field's boxes for the languages the form is not written in, named in English
        other_languages=[
            (code, i18n.english_name(code)) for code in i18n.LANGUAGES if code != draft.language
        ],
        translation_keys=[
            f"{key}.{code}"
            for key in ("labels", "helps", "option_labels")
            for code in i18n.LANGUAGES
        ],
        preview=_preview(draft),
    )


def _preview(draft: Draft) -> Markup:
    """The visitor's form as the draft shows it, in the language the admin asked to see."""
    asked = draft.preview_language
    language = asked if asked in i18n.LANGUAGES else draft.language
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT
    with i18n.speaking(language):
        fields = field_views(
            drafts.preview_fields(draft), language=language, form_language=draft.language
        )
    return fragment("_admin_preview.html", language, draft=draft, preview=fields)


@page
@console_get(ADMIN)
def archive_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    form_id = valid_id(request.path_params["form_id"])
    form = catalogue.get_form(rt, actor, form_id)
    if form["archived"]:
        return RedirectResponse(f"/admin/forms/{form_id}", status_code=303)
    return console_page(request, rt, actor, "admin_form_archive.html", section=SECTION, form=form)


@page
@console_post(ADMIN)
def archive(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    form_id = valid_id(request.path_params["form_id"])
    catalogue.archive_form(rt, actor, form_id)
    return done("/admin/forms", "form_archived")
