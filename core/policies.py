"""A site's account and data policies, with the bounds PCI-DSS and the product allow.

The bounds are the server's, not the admin console's: a value outside them is refused
with 422 naming the field, whoever sends it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from publicsuffixlist import PublicSuffixList
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from core import audit
from core.actors import USER_ROLES, Actor, Role
from core.errors import DomainError, NotFound
from core.forms.speech import DEFAULT, LANGUAGES
from core.runtime import Runtime
from core.schema import sites, users
from core.sessions import update_user_sessions

ROLES = USER_ROLES
IDLE_ACTIONS = ("logout",)
MAX_IDLE_TIMEOUT_S = 900  # PCI-DSS 8.2.8: re-authenticate after 15 minutes idle

# (lowest, highest) for each whole-number policy.
BOUNDS: dict[str, tuple[int, int]] = {
    "password_min_length": (7, 128),  # PCI-DSS 8.3.6: at least 12 (7 where a system can't)
    "failed_login_limit": (1, 10),  # PCI-DSS 8.3.4: lock out after at most 10 attempts
    "idle_timeout_s": (60, MAX_IDLE_TIMEOUT_S),
    "retention_days": (1, 3650),
    "off_record_ttl_s": (30, 3600),
    # How often a visitor link opens before it is spent: a reload or a closed tab can
    # come back, and a link seen by many is still no open door.
    "link_opens": (1, 5),
}
# Only under SECUREFORMS_ENV=test may time policies be seconds short, so tests can watch
# a session idle out or an answer expire without waiting a minute; shorter is never less
# safe, only less usable.
TEST_LOWEST = {"idle_timeout_s": 1, "off_record_ttl_s": 1}
MAX_FRAME_ANCESTORS = 20
_HTTPS_ORIGIN = re.compile(
    r"^https://(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(:[0-9]{1,5})?$"
)
# Outside production a test's or a developer's host page runs on this machine over http;
# browsers treat loopback as a secure context, so framing and cookies behave as on https.
_LOOPBACK_HTTP_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$")
ORIGIN_LISTS = ("frame_ancestors", "agent_frame_ancestors")


class PolicyOutOfBounds(DomainError):
    status, code = 422, "policy_out_of_bounds"
    default_message = "Some policies are outside the safe bounds."


@dataclass(frozen=True)
class SitePolicies:
    password_min_length: int = 12
    failed_login_limit: int = 3
    idle_timeout_s: int = 900
    idle_action: str = "logout"
    retention_days: int = 395
    off_record_ttl_s: int = 300
    link_opens: int = 1
    mfa_required_roles: tuple[str, ...] = field(default_factory=tuple)
    # origins allowed to embed the visitor's form in an iframe (CSP frame-ancestors)
    frame_ancestors: tuple[str, ...] = field(default_factory=tuple)
    # origins allowed to frame the agent's panel (/embed/agent): a chat platform's console
    agent_frame_ancestors: tuple[str, ...] = field(default_factory=tuple)
    # the visitor pages' language when neither the request nor the browser names one we have
    default_language: str = DEFAULT

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["mfa_required_roles"] = list(self.mfa_required_roles)
        for name in ORIGIN_LISTS:
            data[name] = list(getattr(self, name))
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, raw: str) -> SitePolicies:
        data = json.loads(raw)
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["mfa_required_roles"] = tuple(data.get("mfa_required_roles", ()))
        # Saved before wildcards over public suffixes were refused: not honoured (fail
        # closed), and gone from the list the admin sees and saves next.
        for name in ORIGIN_LISTS:
            data[name] = tuple(o for o in data.get(name, ()) if _wildcard_is_one_owner(o))
        return cls(**data)


def site_policies(rt: Runtime, site_id: str) -> SitePolicies:
    if "\x00" in site_id or not site_id.isascii():
        raise NotFound()  # no site id is anything but ASCII (and PostgreSQL refuses NUL)
    with rt.app_engine.connect() as conn:
        raw = conn.execute(select(sites.c.policies).where(sites.c.id == site_id)).scalar()
    if raw is None:
        raise NotFound()
    return SitePolicies.loads(raw)


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validated(
    current: SitePolicies,
    changes: Mapping[str, Any],
    *,
    test_env: bool = False,
    loopback_http: bool = False,
) -> SitePolicies:
    """`current` with `changes` applied, or PolicyOutOfBounds naming every bad field.
    `loopback_http`: origin lists may also name http://localhost or 127.0.0.1 (never in
    production)."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in BOUNDS:
            low, high = BOUNDS[name]
            if test_env:
                low = TEST_LOWEST.get(name, low)
            if not _whole_number(value):
                problems[name] = "Must be a whole number."
            elif not low <= value <= high:
                problems[name] = f"Must be between {low} and {high}."
            else:
                values[name] = value
        elif name == "idle_action":
            if value not in IDLE_ACTIONS:
                problems[name] = f"Must be one of: {', '.join(IDLE_ACTIONS)}."
            else:
                values[name] = value
        elif name == "mfa_required_roles":
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                problems[name] = "Must be a list of roles."
            elif not set(value) <= set(ROLES):
                problems[name] = f"Roles are {', '.join(ROLES)}."
            else:
                values[name] = tuple(r for r in ROLES if r in value)
        elif name == "default_language":
            if value not in LANGUAGES:
                problems[name] = f"Must be one of: {', '.join(LANGUAGES)}."
            else:
                values[name] = value
        elif name in ORIGIN_LISTS:
            origins = _origins(value, loopback_http)
            if origins is None:
                problems[name] = (
                    f"Up to {MAX_FRAME_ANCESTORS} https origins such as "
                    "https://chat.example.com (no path)."
                )
            elif wide := [o for o in origins if not _wildcard_is_one_owner(o)]:
                problems[name] = (
                    f"{wide[0]} lets every site under a public suffix frame the forms; a "
                    "wildcard must stand before a domain of your own, like https://*.example.com."
                )
            else:
                values[name] = origins
        else:
            problems[str(name)[:64]] = "Unknown policy."
    if problems:
        raise PolicyOutOfBounds(fields=problems)
    return replace(current, **values)


def _origins(value: object, loopback_http: bool = False) -> tuple[str, ...] | None:
    if not isinstance(value, list) or len(value) > MAX_FRAME_ANCESTORS:
        return None
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > 300:
            return None
        origin = item.strip().lower().rstrip("/")
        if not _HTTPS_ORIGIN.match(origin) and not (
            loopback_http and _LOOPBACK_HTTP_ORIGIN.match(origin)
        ):
            return None
        port = origin.rsplit(":", 1)[1] if origin.count(":") == 2 else None
        if port is not None and not 0 < int(port) < 65536:
            return None
        if origin not in out:
            out.append(origin)
    return tuple(out)


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    # The list the package ships (ICANN and private suffixes such as github.io): read
    # once, never fetched.
    return PublicSuffixList()


def _wildcard_is_one_owner(origin: object) -> bool:
    """False for https://*.com, https://*.co.uk or https://*.github.io: a wildcard is only
    allowed under a registrable domain, which one owner controls."""
    if not isinstance(origin, str) or not origin.startswith("https://*."):
        return True  # not a wildcard; whatever else is no origin is dropped where used
    host = origin.removeprefix("https://*.").split(":", 1)[0]
    return _public_suffixes().privatesuffix(host) is not None


def update_policies(rt: Runtime, actor: Actor, changes: Mapping[str, Any]) -> SitePolicies:
    """Apply an admin's changes (all or nothing), audit them, and re-time live sessions."""
    actor.require_role(Role.ADMIN)
    with rt.app_engine.begin() as conn:
        before = _locked(conn, actor.site_id)
        after = validated(
            before,
            changes,
            test_env=rt.settings.env == "test",
            loopback_http=rt.settings.allows_dev_defaults,
        )
        conn.execute(
            update(sites).where(sites.c.id == actor.site_id).values(policies=after.dumps())
        )
        changed = [k for k, v in after.to_json().items() if before.to_json()[k] != v]
        if changed:
            audit.record(
                rt,
                site_id=actor.site_id,
                type="policy.changed",
                user_id=actor.user_id,
                resource="policies:"
                + ";".join(f"{k}={_shown(after.to_json()[k])}" for k in changed),
                conn=conn,
            )
        user_ids = list(conn.execute(select(users.c.id).where(users.c.site_id == actor.site_id)))
    if after.idle_timeout_s != before.idle_timeout_s:
        for (user_id,) in user_ids:
            update_user_sessions(rt, user_id, idle=after.idle_timeout_s)
    return after


def _shown(value: object) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def _locked(conn: Connection, site_id: str) -> SitePolicies:
    # The no-op write takes the site row's lock first, so two admins' changes can't each
    # start from the same old policies and lose one another's edits.
    conn.execute(update(sites).where(sites.c.id == site_id).values(name=sites.c.name))
    raw = conn.execute(select(sites.c.policies).where(sites.c.id == site_id)).scalar()
    if raw is None:
        raise NotFound()
    return SitePolicies.loads(raw)
