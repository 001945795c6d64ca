from __future__ import annotations

from typing import Any

import pytest

from core.forms.definitions import DefinitionInvalid
from core.forms.templates import TEMPLATES
from core.forms.transfer import FORMAT, FORMAT_VERSION, export_document, read_document


def document(**changes: Any) -> dict[str, Any]:
    doc = export_document(
        TEMPLATES["payment_card"], form_id="f-1", version=3, exported_at="2025-06-15T10:00:00Z"
    )
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not ...}


def errors_of(payload: object) -> dict[str, str]:
    with pytest.raises(DefinitionInvalid) as caught:
        read_document(payload)
    return caught.value.errors


def test_export_document_shape() -> None:
    doc = document()
    assert doc == {
        "format": "secureforms.form",
        "format_version": 1,
        "exported_at": "2025-06-15T10:00:00Z",
        "source": {"form_id": "f-1", "version": 3},
        "definition": TEMPLATES["payment_card"].to_json(),
    }
    assert (FORMAT, FORMAT_VERSION) == ("secureforms.form", 1)


def test_only_the_definition_is_required_beside_the_format() -> None:
    doc = {"format": FORMAT, "format_version": 1, "definition": document()["definition"]}
    assert read_document(doc) == TEMPLATES["payment_card"]


FORMAT_MESSAGE = "'format' must be 'secureforms.form'; is this a file exported from a form?"
VERSION_MESSAGE = (
    "'format_version' must be 1; this installation reads only that version of the export format."
)
UNKNOWN = (
    "Unknown key; an export document has only format, format_version, exported_at, source, "
    "definition."
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"format": ...}, {"format": FORMAT_MESSAGE}),
        ({"format": "secureforms.site"}, {"format": FORMAT_MESSAGE}),
        ({"format_version": 2}, {"format_version": VERSION_MESSAGE}),
        ({"format_version": True}, {"format_version": VERSION_MESSAGE}),
        ({"format_version": 1.0}, {"format_version": VERSION_MESSAGE}),
        ({"format_version": "1"}, {"format_version": VERSION_MESSAGE}),
        ({"definition": ...}, {"definition": "The document has no 'definition'."}),
        ({"definition": "x"}, {"definition": "A form definition must be an object."}),
        ({"site_id": "s"}, {"site_id": UNKNOWN}),
    ],
)
def test_document_errors(changes: dict[str, Any], expected: dict[str, str]) -> None:
    assert errors_of(document(**changes)) == expected


def test_definition_errors_are_keyed_by_their_path_in_the_document() -> None:
    definition = document()["definition"]
    definition["fields"][1]["type"] = "password"
    definition["title"] = ""
    errors = errors_of(document(definition=definition))
    assert set(errors) == {"definition.fields[1].type", "definition.title"}


@pytest.mark.parametrize("payload", [None, [], "doc", 7])
def test_a_document_must_be_an_object(payload: object) -> None:
    assert errors_of(payload) == {"document": "An export document must be a JSON object."}
