"""The console's audit trail: latest first, filtered by time, type and user, paged.

    GET /admin/audit?since=&type=&user_id=&before=

The filters are a plain GET form, so a filtered page can be bookmarked or shared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_gate import console_get
from api.pages.admin_kit import ADMIN, console_page, error_summary, when
from api.pages.web import page
from core import console
from core.actors import Actor
from core.runtime import Runtime
from core.text import is_id

PER_PAGE = 50
_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]*)*$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SEQ = re.compile(r"^[0-9]{1,10}$")

TYPES = (
    ("", "Any type"),
    ("auth.", "Sign-in and account security (auth.…)"),
    ("auth.login", "Sign-ins"),
    ("auth.lockout", "Lock-outs"),
    ("auth.mfa_enrolled", "Two-step sign-in set up"),
    ("user.", "Users and passwords (user.…)"),
    ("profile.changed", "Profiles changed"),
    ("policy.changed", "Policies changed"),
    ("form.", "Secure forms (form.…)"),
    ("form.created", "Forms created"),
    ("form.updated", "Forms edited (new versions)"),
    ("form.archived", "Forms archived"),
    ("form.sent", "Forms sent"),
    ("form.opened", "Forms opened"),
    ("form.submitted", "Forms submitted"),
    ("form.revealed", "Answers revealed to agents"),
    ("form.history_revealed", "Answers revealed in engagement history"),
    ("access.denied", "Access refused"),
    ("submissions.erased", "Answers erased on request"),
    ("retention.purged", "Retention purges"),
    ("keys.rotated", "Key rotations"),
)
_FIELD_IDS = {"since": "filter-since", "type": "filter-type", "user_id": "filter-user"}


def _since(raw: str) -> datetime | None:
    if _DATE.match(raw):
        raw += "T00:00:00Z"
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _read_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    chosen = {k: query.get(k, "").strip() for k in ("since", "type", "user_id", "before")}
    errors = {}
    if chosen["since"] and (len(chosen["since"]) > 40 or _since(chosen["since"]) is None):
        errors["since"] = (
            "Enter a date like 2030-01-31, or a time with its zone like 2030-01-31T09:00:00Z."
        )
    if chosen["type"] and (len(chosen["type"]) > 64 or not _TYPE.match(chosen["type"])):
        errors["type"] = "Choose a type of event from the list."
    if chosen["user_id"] and not is_id(chosen["user_id"]):
        errors["user_id"] = "Choose a user from the list."
    if chosen["before"] and not _SEQ.match(chosen["before"]):
        chosen["before"] = ""  # a broken paging link starts again from the newest
    return chosen, errors


@page
@console_get(ADMIN)
def audit_page(request: Request, rt: Runtime, actor: Actor) -> Response:
    chosen, errors = _read_filters(request.query_params)
    names = console.user_names(rt, actor)
    events = []
    if not errors:
        events = console.audit_newest_first(
            rt,
            actor,
            since=_since(chosen["since"]) if chosen["since"] else None,
            type=chosen["type"] or None,
            user_id=chosen["user_id"] or None,
            before=int(chosen["before"]) if chosen["before"] else None,
            limit=PER_PAGE,
        )
    filters = {k: v for k, v in chosen.items() if k != "before" and v}
    older = None
    if len(events) == PER_PAGE:
        older = "/admin/audit?" + urlencode({**filters, "before": events[-1]["seq"]})
    types = list(TYPES)
    if chosen["type"] and chosen["type"] not in dict(TYPES) and "type" not in errors:
        types.append((chosen["type"], chosen["type"]))  # a type of a newer release
    return console_page(
        request,
        rt,
        actor,
        "admin_audit.html",
        section="/admin/audit",
        status_code=422 if errors else 200,
        chosen=chosen,
        types=types,
        people=sorted(names.items(), key=lambda item: item[1].lower()),
        events=[
            {
                **e,
                "when": when(e["at"], seconds=True),
                "who": names.get(e["user_id"] or "", e["user_id"]),
            }
            for e in events
        ],
        filtered=bool(filters),
        older=older,
        newest="/admin/audit?" + urlencode(filters) if chosen["before"] else None,
        errors=errors,
        summary=error_summary(errors, lambda key: "#" + _FIELD_IDS[key]),
    )
