"""The catalogue against real app DBs (SQLite and PostgreSQL, migrated by Alembic)."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

import pytest

from core.actors import Actor
from core.errors import Conflict, DomainError, NotFound, ValidationFailed
from core.forms import catalogue
from core.forms.templates import TEMPLATES
from core.sites import find_site_by_name

SiteMaker = Callable[..., Actor]


def definition(name: str = "payment", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "title": "Pay",
        "fields": [{"name": "card", "label": "Card", "type": "card_number", "required": True}],
    }
    data.update(changes)
    return data


def test_create_get_and_list(rt: Any, admin: Actor) -> None:
    made = catalogue.create_form(rt, admin, definition())
    assert made["version"] == 1
    form = catalogue.get_form(rt, admin, made["id"])
    assert form["name"] == "payment" and form["archived"] is False
    assert form["fields"][0]["label"] == "Card"
    assert [f["id"] for f in catalogue.list_forms(rt, admin)] == [made["id"]]


def test_invalid_definitions_answer_every_problem(rt: Any, admin: Actor) -> None:
    with pytest.raises(ValidationFailed) as caught:
        catalogue.create_form(rt, admin, definition(name="Bad", fields=[{"name": "x"}]))
    assert set(caught.value.fields or {}) == {"name", "fields[0].label", "fields[0].type"}
    assert catalogue.list_forms(rt, admin) == []


def test_markup_in_a_label_is_stored_and_returned_as_text(rt: Any, admin: Actor) -> None:
    label = "<script>alert(1)</script>"
    fields = [{"name": "card", "label": label, "type": "card_number", "help": "<b>x</b>"}]
    made = catalogue.create_form(rt, admin, definition(fields=fields, title="<i>t</i>"))
    form = catalogue.get_form(rt, admin, made["id"])
    assert form["fields"][0]["label"] == label
    assert form["fields"][0]["help"] == "<b>x</b>"
    assert form["title"] == "<i>t</i>"


def test_names_are_unique_among_live_forms(rt: Any, admin: Actor) -> None:
    first = catalogue.create_form(rt, admin, definition())
    with pytest.raises(Conflict):
        catalogue.create_form(rt, admin, definition())
    catalogue.archive_form(rt, admin, first["id"])
    second = catalogue.create_form(rt, admin, definition())
    assert second["id"] != first["id"]


def test_a_rename_onto_another_live_form_is_refused(rt: Any, admin: Actor) -> None:
    catalogue.create_form(rt, admin, definition("payment"))
    other = catalogue.create_form(rt, admin, definition("refund"))
    with pytest.raises(Conflict):
        catalogue.update_form(rt, admin, other["id"], definition("payment"))
    # Nothing of the refused edit was kept.
    assert catalogue.get_form(rt, admin, other["id"])["version"] == 1
    assert catalogue.update_form(rt, admin, other["id"], definition("refund"))["version"] == 2


def test_put_makes_a_new_version_and_keeps_the_old_one(rt: Any, admin: Actor) -> None:
    made = catalogue.create_form(rt, admin, definition())
    v2 = definition(title="Pay now", fields=[{"name": "iban", "label": "IBAN", "type": "iban"}])
    assert catalogue.update_form(rt, admin, made["id"], v2) == {"id": made["id"], "version": 2}
    assert catalogue.get_form(rt, admin, made["id"])["title"] == "Pay now"
    old = catalogue.load_version(rt, admin.site_id, made["id"], 1)
    new = catalogue.load_version(rt, admin.site_id, made["id"], 2)
    assert [f.name for f in old.fields] == ["card"]
    assert [f.name for f in new.fields] == ["iban"]
    with pytest.raises(NotFound):
        catalogue.load_version(rt, admin.site_id, made["id"], 3)


def test_archived_forms_are_hidden_kept_and_frozen(rt: Any, admin: Actor) -> None:
    made = catalogue.create_form(rt, admin, definition())
    assert catalogue.archive_form(rt, admin, made["id"]) == {"id": made["id"], "archived": True}
    assert catalogue.list_forms(rt, admin) == []
    [listed] = catalogue.list_forms(rt, admin, include_archived=True)
    assert listed["archived"] is True
    assert catalogue.get_form(rt, admin, made["id"])["archived"] is True
    # Requests already sent still load their version.
    assert catalogue.load_version(rt, admin.site_id, made["id"], 1).name == "payment"
    with pytest.raises(Conflict):
        catalogue.update_form(rt, admin, made["id"], definition())


def test_forms_of_another_site_do_not_exist(rt: Any, make_site: SiteMaker) -> None:
    one, other = make_site(), make_site()
    made = catalogue.create_form(rt, one, definition())
    for call in (
        lambda: catalogue.get_form(rt, other, made["id"]),
        lambda: catalogue.export_form(rt, other, made["id"]),
        lambda: catalogue.update_form(rt, other, made["id"], definition()),
        lambda: catalogue.archive_form(rt, other, made["id"]),
        lambda: catalogue.load_version(rt, other.site_id, made["id"], 1),
    ):
        with pytest.raises(NotFound):
            call()
    assert catalogue.list_forms(rt, other) == []
    assert catalogue.get_form(rt, one, made["id"])["archived"] is False


def test_export_and_import_round_trip_between_sites(rt: Any, make_site: SiteMaker) -> None:
    source, target = make_site(), make_site()
    made = catalogue.create_form(rt, source, dict(TEMPLATES["bank_account"].to_json()))
    catalogue.update_form(rt, source, made["id"], TEMPLATES["bank_account"].to_json())
    doc = catalogue.export_form(rt, source, made["id"])
    assert doc["source"] == {"form_id": made["id"], "version": 2}
    assert doc["definition"] == TEMPLATES["bank_account"].to_json()

    imported = catalogue.import_form(rt, target, doc)
    assert imported["version"] == 1 and imported["id"] != made["id"]
    copy = catalogue.get_form(rt, target, imported["id"])
    assert {k: copy[k] for k in doc["definition"]} == doc["definition"]
    # The same document again clashes with the form it made.
    with pytest.raises(Conflict):
        catalogue.import_form(rt, target, doc)


def test_import_errors_point_into_the_document(rt: Any, admin: Actor) -> None:
    doc = {"format": "secureforms.form", "format_version": 1, "definition": definition()}
    doc["definition"]["fields"][0]["type"] = "password"
    with pytest.raises(ValidationFailed) as caught:
        catalogue.import_form(rt, admin, doc)
    assert set(caught.value.fields or {}) == {"definition.fields[0].type"}
    assert catalogue.list_forms(rt, admin) == []


def test_templates_install_once_each_or_under_another_name(rt: Any, admin: Actor) -> None:
    made = catalogue.from_template(rt, admin, "identity_verification", {})
    form = catalogue.get_form(rt, admin, made["id"])
    assert {k: form[k] for k in ("name", "title")} == {
        "name": "identity_verification",
        "title": "Verify your identity",
    }
    with pytest.raises(Conflict):
        catalogue.from_template(rt, admin, "identity_verification", {})
    again = catalogue.from_template(
        rt, admin, "identity_verification", {"name": "id_check_uk", "title": "ID check"}
    )
    assert catalogue.get_form(rt, admin, again["id"])["title"] == "ID check"
    with pytest.raises(NotFound):
        catalogue.from_template(rt, admin, "loyalty_card", {})
    with pytest.raises(ValidationFailed) as caught:
        catalogue.from_template(rt, admin, "bank_account", {"name": "Bank Account"})
    assert set(caught.value.fields or {}) == {"name"}


def test_a_site_can_be_created_with_templates(rt: Any, make_site: SiteMaker) -> None:
    admin = make_site(templates=tuple(TEMPLATES))
    forms = catalogue.list_forms(rt, admin)
    assert sorted(f["name"] for f in forms) == sorted(TEMPLATES)
    assert all(f["version"] == 1 for f in forms)
    assert catalogue.list_forms(rt, make_site()) == []


def test_an_unknown_template_leaves_no_half_made_site(rt: Any) -> None:
    from core.sites import create_site

    name = f"site-{secrets.token_hex(4)}"
    with pytest.raises(NotFound):
        create_site(rt, name, "admin", "admin-password-1", templates=("payment_card", "nope"))
    assert find_site_by_name(rt, name) is None


def run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads released at once; collect results or domain errors."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except DomainError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_creates_of_one_name_make_one_form(rt: Any, admin: Actor) -> None:
    results = run_together(6, lambda _i: catalogue.create_form(rt, admin, definition()))
    made = [r for r in results if isinstance(r, dict)]
    assert len(made) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, dict))
    assert [f["id"] for f in catalogue.list_forms(rt, admin)] == [made[0]["id"]]


def test_concurrent_edits_never_fail_on_the_version_key(rt: Any, admin: Actor) -> None:
    made = catalogue.create_form(rt, admin, definition())

    def edit(i: int) -> object:
        return catalogue.update_form(rt, admin, made["id"], definition(title=f"Edit {i}"))

    results = run_together(6, edit)
    versions = sorted(r["version"] for r in results if isinstance(r, dict))  # type: ignore[index]
    assert all(isinstance(r, dict | Conflict) for r in results)
    assert versions and versions == list(range(2, 2 + len(versions)))
    assert catalogue.get_form(rt, admin, made["id"])["version"] == versions[-1]


def test_a_pattern_saved_before_re2_still_opens_and_refuses_every_answer(
    rt: Any, admin: Actor
) -> None:
    # Python's re took lookaheads; RE2 does not. Such a form, already in the DB, must still
    # list and load (no server error), and its pattern must fail closed: nothing passes it.
    from sqlalchemy import update

    from core.forms.fields import SubmissionInvalid, validate_values
    from core.schema import form_versions

    made = catalogue.create_form(rt, admin, definition("legacy"))
    old = definition(
        "legacy",
        fields=[{"name": "ref", "label": "Reference", "type": "text", "pattern": "(?=A)A\\d+"}],
    )
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(form_versions)
            .where(form_versions.c.form_id == made["id"])
            .values(definition=json.dumps(old))
        )
    catalogue._VERSIONS.clear()

    assert made["id"] in {f["id"] for f in catalogue.list_forms(rt, admin)}
    loaded = catalogue.load_version(rt, admin.site_id, made["id"], 1)
    (spec,) = loaded.fields
    assert spec.pattern == "(?=A)A\\d+"
    with pytest.raises(SubmissionInvalid) as caught:
        validate_values(loaded.fields, {"ref": "A123"})
    assert set(caught.value.errors) == {"ref"}
    # Saving it again goes through today's rules, which name the pattern.
    with pytest.raises(ValidationFailed) as refused:
        catalogue.update_form(rt, admin, made["id"], old)
    assert "fields[0].pattern" in (refused.value.fields or {})
