"""A site's library of secure form definitions; every change is a new version.

Requests remember the version they were sent with, so editing a form never changes what
a visitor who already has the link sees. Archiving stops new requests only.

Two admins can act at once, so the rules that span rows are enforced inside the writing
transaction: the site's row is locked first (PostgreSQL; SQLite lets one writer in at a
time anyway), the write comes before the check so that SQLite takes its write lock
before reading, and a version is only bumped from the version that was read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from core import audit
from core.actors import Actor
from core.clock import rfc3339, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.forms.definitions import DefinitionInvalid, FormDefinition, parse_definition
from core.forms.templates import TEMPLATES
from core.forms.transfer import export_document, read_document
from core.runtime import Runtime
from core.schema import form_versions, forms, sites


def _parse(payload: object) -> FormDefinition:
    try:
        return parse_definition(payload)
    except DefinitionInvalid as exc:
        raise ValidationFailed("The form definition needs fixing.", fields=exc.errors) from None


def create_form(rt: Runtime, actor: Actor, payload: object) -> dict[str, Any]:
    return add_definition(rt, actor.site_id, _parse(payload), user_id=actor.user_id)


def add_definition(
    rt: Runtime,
    site_id: str,
    definition: FormDefinition,
    *,
    conn: Connection | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """Store an already checked definition as a new form (version 1) of the site."""
    if conn is None:
        with rt.app_engine.begin() as own:
            return add_definition(rt, site_id, definition, conn=own, user_id=user_id)
    form_id = str(uuid.uuid4())
    now = utcnow()
    _lock_site(conn, site_id)
    conn.execute(
        insert(forms).values(
            id=form_id,
            site_id=site_id,
            name=definition.name,
            version=1,
            archived=False,
            created_at=now,
            updated_at=now,
        )
    )
    _insert_version(conn, form_id, 1, definition)
    _check_name_free(conn, site_id, definition.name, form_id)
    _audit(rt, conn, site_id, user_id, "form.created", form_id, 1)
    return {"id": form_id, "version": 1}


def _audit(
    rt: Runtime,
    conn: Connection,
    site_id: str,
    user_id: str | None,
    type: str,
    form_id: str,
    version: int | None = None,
) -> None:
    # What a form asks of visitors is part of the site's security: who changed it, when.
    resource = f"form:{form_id}" + (f";version:{version}" if version is not None else "")
    audit.record(rt, site_id=site_id, type=type, user_id=user_id, resource=resource, conn=conn)


def _lock_site(conn: Connection, site_id: str) -> None:
    # Serialises the name check of concurrent creates and renames on one site.
    conn.execute(select(sites.c.id).where(sites.c.id == site_id).with_for_update())


def _insert_version(
    conn: Connection, form_id: str, version: int, definition: FormDefinition
) -> None:
    conn.execute(
        insert(form_versions).values(
            form_id=form_id,
            version=version,
            definition=json.dumps(definition.to_json()),
            created_at=utcnow(),
        )
    )


def _check_name_free(conn: Connection, site_id: str, name: str, form_id: str) -> None:
    """Raise Conflict (rolling the caller's write back) if another live form has `name`."""
    taken = conn.execute(
        select(func.count())
        .select_from(forms)
        .where(
            forms.c.site_id == site_id,
            forms.c.name == name,
            forms.c.archived.is_(False),
            forms.c.id != form_id,
        )
    ).scalar()
    if taken:
        raise Conflict(
            "A form with this name already exists on this site; "
            "choose another name or archive that form first."
        )


def _row(rt: Runtime, site_id: str, form_id: str) -> Any:
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(forms).where(forms.c.id == form_id, forms.c.site_id == site_id)
        ).first()
    if row is None:
        raise NotFound("No such form on this site.")
    return row


# A form version never changes once written (PUT makes a new one), so the visitor's open
# and submit, which both need it, can skip two SELECTs once it has been read.
_VERSIONS: dict[tuple[str, str, int], FormDefinition] = {}
_VERSIONS_MAX = 1024


def load_version(rt: Runtime, site_id: str, form_id: str, version: int) -> FormDefinition:
    cached = _VERSIONS.get((site_id, form_id, version))
    if cached is not None:
        return cached
    _row(rt, site_id, form_id)  # the site scope check
    with rt.app_engine.connect() as conn:
        raw = conn.execute(
            select(form_versions.c.definition).where(
                form_versions.c.form_id == form_id, form_versions.c.version == version
            )
        ).scalar()
    if raw is None:
        raise NotFound("No such form version.")
    definition = parse_definition(json.loads(raw), stored=True)
    if len(_VERSIONS) >= _VERSIONS_MAX:
        _VERSIONS.clear()
    _VERSIONS[(site_id, form_id, version)] = definition
    return definition


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
        rows = conn.execute(query.order_by(forms.c.name, forms.c.created_at)).all()
    return [_public(r, parse_definition(json.loads(r.definition), stored=True)) for r in rows]


def update_form(rt: Runtime, actor: Actor, form_id: str, payload: object) -> dict[str, Any]:
    definition = _parse(payload)
    row = _row(rt, actor.site_id, form_id)
    if row.archived:
        raise Conflict("This form is archived; create a new one instead.")
    new_version = row.version + 1
    with rt.app_engine.begin() as conn:
        _lock_site(conn, actor.site_id)
        # Only from the version that was read: of two concurrent edits, the second is
        # told to reload rather than failing on the version's primary key.
        bumped = conn.execute(
            update(forms)
            .where(
                forms.c.id == form_id,
                forms.c.site_id == actor.site_id,
                forms.c.version == row.version,
                forms.c.archived.is_(False),
            )
            .values(version=new_version, name=definition.name, updated_at=utcnow())
        ).rowcount
        if not bumped:
            raise Conflict("The form was changed or archived meanwhile; reload it and try again.")
        _insert_version(conn, form_id, new_version, definition)
        _check_name_free(conn, actor.site_id, definition.name, form_id)
        _audit(rt, conn, actor.site_id, actor.user_id, "form.updated", form_id, new_version)
    return {"id": form_id, "version": new_version}


def archive_form(rt: Runtime, actor: Actor, form_id: str) -> dict[str, Any]:
    _row(rt, actor.site_id, form_id)
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(forms)
            .where(forms.c.id == form_id, forms.c.site_id == actor.site_id)
            .values(archived=True, updated_at=utcnow())
        )
        _audit(rt, conn, actor.site_id, actor.user_id, "form.archived", form_id)
    return {"id": form_id, "archived": True}


def export_form(rt: Runtime, actor: Actor, form_id: str) -> dict[str, Any]:
    """The current version as a document that `import_form` reads back (any site)."""
    row, definition = current(rt, actor.site_id, form_id)
    return export_document(
        definition, form_id=row.id, version=row.version, exported_at=rfc3339(utcnow())
    )


def import_form(rt: Runtime, actor: Actor, payload: object) -> dict[str, Any]:
    try:
        definition = read_document(payload)
    except DefinitionInvalid as exc:
        raise ValidationFailed("The export document needs fixing.", fields=exc.errors) from None
    return add_definition(rt, actor.site_id, definition, user_id=actor.user_id)


def from_template(
    rt: Runtime, actor: Actor, template: str, overrides: Mapping[str, object]
) -> dict[str, Any]:
    """A new form of the site from a shipped template, optionally renamed and retitled.

    `overrides` may set "name" and "title", so that one template can be installed twice.
    """
    found = TEMPLATES.get(template)
    if found is None:
        raise NotFound("No such template; GET /api/v1/form-templates lists them.")
    payload = {**found.to_json(), **{k: v for k, v in overrides.items() if v is not None}}
    return add_definition(rt, actor.site_id, _parse(payload), user_id=actor.user_id)


def install_templates(
    rt: Runtime, site_id: str, names: tuple[str, ...], *, conn: Connection
) -> list[dict[str, Any]]:
    """Add shipped templates to a new site inside the caller's transaction."""
    unknown = sorted(set(names) - set(TEMPLATES))
    if unknown:
        raise NotFound(f"No template named {', '.join(unknown)}.")
    return [add_definition(rt, site_id, TEMPLATES[name], conn=conn) for name in names]
