"""Engagement history for managers with `secure_forms.view_history`: the conversations that
collected secure forms, and each submission's stored answers on request.

    GET  /admin/history?page=N                              conversations, latest first
    POST /admin/history/submissions/{id}/reveal             the stored answers, masked
                                                            until shown (without script)

With script, the page asks POST /api/v1/submissions/{id}/history-reveal instead and keeps
the answers in the page only until the manager closes them. Either way core checks the
permission and audits the reveal; off-the-record answers were never stored, so they can't
be shown.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import refused
from api.pages.admin_gate import Posted, console_get, console_post
from api.pages.admin_kit import console_page, valid_id, when
from api.pages.render import error_page
from api.pages.web import page
from core import console, history
from core.actors import VIEW_HISTORY, Actor
from core.errors import DomainError, NotFound
from core.forms.catalogue import load_version
from core.forms.masking import mask
from core.mfa import MfaEnrollmentRequired, require_enrolled
from core.runtime import Runtime
from core.text import is_uuid

SECTION = "/admin/history"
PER_PAGE = 20
_PAGE = re.compile(r"^[1-9][0-9]{0,4}$")


def _fields(rt: Runtime, actor: Actor, form: dict[str, Any]) -> list[dict[str, str]]:
    """The stored fields of a submission's form version: name, label and type (no value)."""
    try:
        definition = load_version(rt, actor.site_id, form["id"], form["version"])
    except NotFound:
        return []
    return [
        {"name": spec.name, "label": spec.label or spec.name, "type": spec.type}
        for spec in definition.fields
        if not spec.off_the_record
    ]


def _labels(rt: Runtime, actor: Actor, form: dict[str, Any], names: list[str]) -> list[str]:
    try:
        definition = load_version(rt, actor.site_id, form["id"], form["version"])
    except NotFound:
        return names
    by_name = {spec.name: spec.label or spec.name for spec in definition.fields}
    return [by_name.get(name, name) for name in names]


@page
@console_get(VIEW_HISTORY)
def history_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    raw_page = request.query_params.get("page", "1")
    number = int(raw_page) if _PAGE.match(raw_page) else 1
    found, total = console.conversations_with_forms(rt, actor, page=number, per_page=PER_PAGE)
    names = console.user_names(rt, actor)
    conversations = []
    for conversation in found:
        collected = history.conversation_history(rt, actor, conversation["id"])
        conversations.append(
            {
                **conversation,
                "started": when(conversation["created_at"]),
                "agent": names.get(conversation["agent_id"] or "", "no agent"),
                "submissions": [
                    {
                        **s,
                        "title": s["form"].get("title", "A form no longer on the site"),
                        "submitted": when(s["submitted_at"]),
                        "agent": names.get(s["agent_id"], "a former user"),
                        "fields": _fields(rt, actor, s["form"]),
                        "not_kept": _labels(rt, actor, s["form"], s["off_the_record_fields"]),
                    }
                    for s in collected["submissions"]
                ],
            }
        )
    pages = max(1, -(-total // PER_PAGE))
    return console_page(
        request,
        rt,
        actor,
        "admin_history.html",
        section=SECTION,
        conversations=conversations,
        page_number=number,
        pages=pages,
        total=total,
    )


def _audit_refusal(rt: Runtime, actor: Actor, submission_id: str, code: str) -> None:
    # What the API's audited endpoint records for a refused reveal.
    shown = submission_id if is_uuid(submission_id) else "(not an id)"
    refused(rt, actor, f"submission:{shown};error={code}", type="form.history_revealed")


@page
@console_post(VIEW_HISTORY)
def reveal(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
    """The page that shows stored answers when the browser runs no script."""
    submission_id = valid_id(request.path_params["submission_id"])
    try:
        require_enrolled(rt, actor)
        found = history.history_reveal(rt, actor, submission_id)
    except DomainError as exc:
        _audit_refusal(rt, actor, submission_id, exc.code)
        if not isinstance(exc, MfaEnrollmentRequired):
            raise
        return error_page(
            request,
            403,
            "Set up two-step sign-in first",
            "This site asks managers to use two-step sign-in before answers are revealed.",
            advice="Set it up on your Account page, then come back to the history.",
        )
    values = found["values"]
    fields = _fields(rt, actor, found["form"])
    known = {f["name"] for f in fields}
    # In the form's order; an answer to a field the form no longer names comes last.
    fields += [{"name": n, "label": n, "type": ""} for n in values if n not in known]
    answers = [
        {
            "label": f["label"],
            "masked": mask(f["type"], values[f["name"]]),
            "value": values[f["name"]],
        }
        for f in fields
        if f["name"] in values
    ]
    return console_page(
        request,
        rt,
        actor,
        "admin_history_reveal.html",
        section=SECTION,
        title=found["form"].get("title", "A form no longer on the site"),
        submitted=when(found["submitted_at"]),
        answers=answers,
    )
