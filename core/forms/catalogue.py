"""A site's library of secure form definitions; every change is a new version.

Requests remember the version they were sent with, so editing a form never changes what
a visitor who already has the link sees.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import insert, select, update

from core.actors import Actor
from core.clock import rfc3339, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.forms.definitions import DefinitionInvalid, FormDefinition, parse_definition
from core.runtime import Runtime
from core.schema import form_versions, forms


def _parse(payload: object) -> FormDefinition:
    try:
        return parse_definition(payload)
    except DefinitionInvalid as exc:
        raise ValidationFailed("The form definition needs fixing.", fields=exc.errors) from None


def create_form(rt: Runtime, actor: Actor, payload: object) -> dict[str, Any]:
    definition = _parse(payload)
    form_id = str(uuid.uuid4())
    now = utcnow()
    with rt.app_engine.begin() as conn:
        taken = conn.execute(
            select(forms.c.id).where(
                forms.c.site_id == actor.site_id,
                forms.c.name == definition.name,
                forms.c.archived.is_(False),
            )
        ).first()
        if taken:
            raise Conflict(f"A form named {definition.name!r} already exists on this site.")
        conn.execute(
            insert(forms).values(
                id=form_id,
                site_id=actor.site_id,
                name=definition.name,
                version=1,
                archived=False,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(form_versions).values(
                form_id=form_id,
                version=1,
                definition=json.dumps(definition.to_json()),
                created_at=now,
            )
        )
    return {"id": form_id, "version": 1}


def _row(rt: Runtime, site_id: str, form_id: str) -> Any:
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(forms).where(forms.c.id == form_id, forms.c.site_id == site_id)
        ).first()
    if row is None:
        raise NotFound("No such form on this site.")
    return row


def load_version(rt: Runtime, site_id: str, form_id: str, version: int) -> FormDefinition:
    _row(rt, site_id, form_id)  # the site scope check
    with rt.app_engine.connect() as conn:
        raw = conn.execute(
            select(form_versions.c.definition).where(
                form_versions.c.form_id == form_id, form_versions.c.version == version
            )
        ).scalar()
    if raw is None:
        raise NotFound("No such form version.")
    return parse_definition(json.loads(raw))


def current(rt: Runtime, site_id: str, form_id: str) -> tuple[Any, FormDefinition]:
    row = _row(rt, site_id, form_id)
    return row, load_version(rt, site_id, form_id, row.version)


def _public(row: Any, definition: FormDefinition) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "archived": bool(row.archived),
        "updated_at": rfc3339(row.updated_at),
        **definition.to_json(),
    }


def get_form(rt: Runtime, actor: Actor, form_id: str) -> dict[str, Any]:
    row, definition = current(rt, actor.site_id, form_id)
    return _public(row, definition)


def list_forms(
    rt: Runtime, actor: Actor, *, include_archived: bool = False
) -> list[dict[str, Any]]:
    with rt.app_engine.connect() as conn:
        query = (
            select(forms, form_versions.c.definition)
            .join(
                form_versions,
                (form_versions.c.form_id == forms.c.id)
                & (form_versions.c.version == forms.c.version),
            )
            .where(forms.c.site_id == actor.site_id)
        )
        if not include_archived:
            query = query.where(forms.c.archived.is_(False))
        rows = conn.execute(query.order_by(forms.c.name)).all()
    return [_public(r, parse_definition(json.loads(r.definition))) for r in rows]


def update_form(rt: Runtime, actor: Actor, form_id: str, payload: object) -> dict[str, Any]:
    definition = _parse(payload)
    row = _row(rt, actor.site_id, form_id)
    if row.archived:
        raise Conflict("This form is archived; create a new one instead.")
    now = utcnow()
    with rt.app_engine.begin() as conn:
        new_version = row.version + 1
        conn.execute(
            insert(form_versions).values(
                form_id=form_id,
                version=new_version,
                definition=json.dumps(definition.to_json()),
                created_at=now,
            )
        )
        conn.execute(
            update(forms)
            .where(forms.c.id == form_id, forms.c.site_id == actor.site_id)
            .values(version=new_version, name=definition.name, updated_at=now)
        )
    return {"id": form_id, "version": new_version}


def archive_form(rt: Runtime, actor: Actor, form_id: str) -> dict[str, Any]:
    _row(rt, actor.site_id, form_id)
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(forms)
            .where(forms.c.id == form_id, forms.c.site_id == actor.site_id)
            .values(archived=True, updated_at=utcnow())
        )
    return {"id": form_id, "archived": True}
