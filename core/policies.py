"""A site's account and data policies, with the bounds PCI-DSS and the product allow."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sqlalchemy import select

from core.errors import NotFound
from core.runtime import Runtime
from core.schema import sites

ROLES = ("agent", "manager", "admin")


@dataclass(frozen=True)
class SitePolicies:
    password_min_length: int = 12
    failed_login_limit: int = 3
    idle_timeout_s: int = 900
    idle_action: str = "logout"
    retention_days: int = 395
    off_record_ttl_s: int = 300
    mfa_required_roles: tuple[str, ...] = field(default_factory=tuple)
    # origins allowed to embed the visitor's form in an iframe (CSP frame-ancestors)
    frame_ancestors: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["mfa_required_roles"] = list(self.mfa_required_roles)
        data["frame_ancestors"] = list(self.frame_ancestors)
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, raw: str) -> SitePolicies:
        data = json.loads(raw)
        data["mfa_required_roles"] = tuple(data.get("mfa_required_roles", ()))
        data["frame_ancestors"] = tuple(data.get("frame_ancestors", ()))
        return cls(**data)


def site_policies(rt: Runtime, site_id: str) -> SitePolicies:
    with rt.app_engine.connect() as conn:
        raw = conn.execute(select(sites.c.policies).where(sites.c.id == site_id)).scalar()
    if raw is None:
        raise NotFound()
    return SitePolicies.loads(raw)
