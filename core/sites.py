"""Sites (tenants): creation with a first admin, policies, and site API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import insert, select

from core.actors import Role
from core.clock import utcnow
from core.errors import NotFound
from core.forms.catalogue import install_templates
from core.policies import SitePolicies
from core.profiles import seed_defaults as seed_default_profiles
from core.runtime import Runtime
from core.schema import site_api_keys, sites
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


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(rt: Runtime, site_id: str, name: str) -> str:
    """A bearer key for a chat platform's back end; only its hash is kept."""
    if not site_exists(rt, site_id):
        raise NotFound()
    key = "sfk_" + secrets.token_urlsafe(32)
    with rt.app_engine.begin() as conn:
        conn.execute(
            insert(site_api_keys).values(
                id=str(uuid.uuid4()),
                site_id=site_id,
                name=name,
                key_hash=_key_hash(key),
                created_at=utcnow(),
            )
        )
    return key


def site_for_api_key(rt: Runtime, key: str) -> str | None:
    with rt.app_engine.connect() as conn:
        return conn.execute(
            select(site_api_keys.c.site_id).where(site_api_keys.c.key_hash == _key_hash(key))
        ).scalar()
