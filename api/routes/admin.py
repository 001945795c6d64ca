"""The admin's site settings: profiles and permissions, account policies, the audit trail."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from api.answers import or_empty
from api.bodies import field
from api.endpoints import ADMIN, Ctx
from api.errors import ApiError
from api.routes import registry
from core import audit, policies, profiles
from core.policies import site_policies
from core.text import is_id

MAX_AUDIT_PAGE = 1000
_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]*)*$")


@registry.route("GET", "/api/v1/profiles", tag="profiles", roles=ADMIN)
def list_profiles(ctx: Ctx) -> dict[str, Any]:
    """The site's profiles: each a role and the permissions it grants."""
    return {"profiles": profiles.list_profiles(ctx.rt, ctx.user)}


@registry.route(
    "POST",
    "/api/v1/profiles",
    status=201,
    tag="profiles",
    roles=ADMIN,
    body={
        "name": field(str, required=True, max_length=100),
        "role": field(str, required=True, max_length=20),
        "permissions": field(list, required=True),
    },
    responses={409: "conflict", 422: "invalid_profile"},
    summary="Create a profile within a role: agents may get secure_forms.use, managers "
    "secure_forms.view_history, admins nothing more than their role.",
)
def create_profile(ctx: Ctx) -> dict[str, Any]:
    """Create a profile."""
    b = ctx.body
    return profiles.create_profile(ctx.rt, ctx.user, b["name"], b["role"], b["permissions"])


@registry.route(
    "GET",
    "/api/v1/profiles/{profile_id}",
    tag="profiles",
    roles=ADMIN,
    responses={404: "not_found"},
)
def get_profile(ctx: Ctx) -> dict[str, Any]:
    """One profile."""
    return profiles.get_profile(ctx.rt, ctx.user, ctx.path["profile_id"])


@registry.route(
    "PATCH",
    "/api/v1/profiles/{profile_id}",
    tag="profiles",
    roles=ADMIN,
    body={
        "name": field(str, max_length=100),
        "role": field(str, max_length=20),
        "permissions": field(list),
    },
    responses={404: "not_found", 409: "conflict", 422: "invalid_profile"},
    summary="Rename a profile or change its permissions (its role stays); the sessions of "
    "its users follow at once.",
)
def update_profile(ctx: Ctx) -> dict[str, Any]:
    """Change a profile."""
    changes = {k: v for k, v in ctx.body.items() if v is not None}
    return profiles.update_profile(ctx.rt, ctx.user, ctx.path["profile_id"], changes)


@registry.route("GET", "/api/v1/site/policies", tag="site", roles=ADMIN)
def get_policies(ctx: Ctx) -> dict[str, Any]:
    """The site's account and data policies."""
    return site_policies(ctx.rt, ctx.user.site_id).to_json()


@registry.route(
    "PUT",
    "/api/v1/site/policies",
    tag="site",
    roles=ADMIN,
    body={
        "password_min_length": field(int),
        "failed_login_limit": field(int),
        "idle_timeout_s": field(int),
        "idle_action": field(str, max_length=20),
        "retention_days": field(int),
        "off_record_ttl_s": field(int),
        "link_opens": field(int),
        "mfa_required_roles": field(list),
        "frame_ancestors": field(list),
        "agent_frame_ancestors": field(list),
        "default_language": field(str, max_length=16),
    },
    responses={422: "policy_out_of_bounds"},
    summary="Change policies (fields left out keep their value). Bounds: password_min_length "
    "7-128, failed_login_limit 1-10, idle_timeout_s 60-900, idle_action logout, "
    "retention_days 1-3650, off_record_ttl_s 30-3600, link_opens 1-5 (how often a visitor "
    "link opens), mfa_required_roles within the roles, frame_ancestors and "
    "agent_frame_ancestors (who may frame /embed/agent) up to 20 https origins each, "
    "default_language en, fr, es or de.",
)
def put_policies(ctx: Ctx) -> dict[str, Any]:
    """Change the site's policies."""
    changes = {k: v for k, v in ctx.body.items() if v is not None}
    return policies.update_policies(ctx.rt, ctx.user, changes).to_json()


def query_int(ctx: Ctx, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.query(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(
            422,
            "invalid_query",
            f"{name} is out of range.",
            fields={name: f"A whole number from {low} to {high}."},
        )
    return int(raw)


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(
            422,
            "invalid_query",
            "since must be an RFC 3339 time.",
            fields={"since": "A time with a zone, such as 2030-01-31T00:00:00Z."},
        )
    return moment.astimezone(UTC)


@registry.route(
    "GET",
    "/api/v1/audit",
    tag="audit",
    roles=ADMIN,
    query={  # an empty value is its default
        "since": or_empty({"type": "string", "format": "date-time"}),
        "type": or_empty({"type": "string", "maxLength": 64, "pattern": _TYPE.pattern}),
        "user_id": {"type": "string"},
        "after": or_empty({"type": "integer", "minimum": 0, "maximum": 2**31 - 1}),
        "limit": or_empty({"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_PAGE}),
    },
    summary="The site's audit trail in order, filtered by ?since= (RFC 3339), ?type= (exact, "
    "or a family ending in '.': type=auth.), ?user_id=; paged by ?after=<seq>&limit= "
    "(up to 1000).",
)
def list_audit(ctx: Ctx) -> dict[str, Any]:
    """The site's audit trail."""
    kind = ctx.query("type") or None
    if kind is not None and (len(kind) > 64 or not _TYPE.match(kind)):
        raise ApiError(
            422,
            "invalid_query",
            "type must be an event type.",
            fields={"type": "Such as auth.login, or auth. for the family."},
        )
    user_id = ctx.query("user_id") or None
    if user_id is not None and not is_id(user_id):
        raise ApiError(422, "invalid_query", "user_id must be an id.", fields={"user_id": "An id."})
    limit = query_int(ctx, "limit", 100, 1, MAX_AUDIT_PAGE)
    events = audit.list_events(
        ctx.rt,
        ctx.user.site_id,
        since=_since(ctx.query("since")),
        type=kind,
        user_id=user_id,
        after=query_int(ctx, "after", 0, 0, 2**31 - 1),
        limit=limit,
    )
    return {
        "events": events,
        "next_after": events[-1]["seq"] if len(events) == limit else None,
    }
