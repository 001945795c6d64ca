"""Sites (tenants): creation with a first admin and policies (their API keys: core.api_keys)."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select

from core.actors import Role
from core.clock import utcnow
from core.forms.catalogue import install_templates
from core.policies import SitePolicies
from core.profiles import seed_defaults as seed_default_profiles
from core.runtime import Runtime
from core.schema import sites
from core.users import create_user


def create_site(
    rt: Runtime,
    name: str,
    admin_username: str,
    admin_password: str,
    *,
    templates: tuple[str, ...] = (),
) -> dict[str, str]:
    """A site, its first admin and, optionally, forms from the shipped templates.

    `templates` names from core.forms.templates; all of it is one transaction, so an
    unknown template leaves no half-made site behind.
    """
    site_id = str(uuid.uuid4())
    with rt.app_engine.begin() as conn:
        conn.execute(
            insert(sites).values(
                id=site_id, name=name, policies=SitePolicies().dumps(), created_at=utcnow()
            )
        )
        seed_default_profiles(site_id, conn=conn)
        admin_id = create_user(
            rt,
            site_id,
            admin_username,
            admin_password,
            Role.ADMIN,
            display_name="Administrator",
            conn=conn,
        )
        install_templates(rt, site_id, templates, conn=conn)
    return {"site_id": site_id, "admin_id": admin_id}


def site_exists(rt: Runtime, site_id: str) -> bool:
    with rt.app_engine.connect() as conn:
        return conn.execute(select(sites.c.id).where(sites.c.id == site_id)).first() is not None


def find_site_by_name(rt: Runtime, name: str) -> str | None:
    with rt.app_engine.connect() as conn:
        return conn.execute(select(sites.c.id).where(sites.c.name == name)).scalar()
