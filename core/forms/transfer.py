"""Moving a form definition between sites or installations as one JSON document.

The document is self-describing so that an import can refuse a file that is not a form
(or a form from a future format) with a clear message instead of a list of unknown keys.
It carries the definition only: never a site, a request or an answer.
"""

from __future__ import annotations

from typing import Any

from .definitions import DefinitionInvalid, FormDefinition, parse_definition

FORMAT = "secureforms.form"
FORMAT_VERSION = 1
_KEYS = ("format", "format_version", "exported_at", "source", "definition")


def export_document(
    definition: FormDefinition, *, form_id: str, version: int, exported_at: str
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": exported_at,
        # Where it came from, for the admin's records; an import does not use it.
        "source": {"form_id": form_id, "version": version},
        "definition": definition.to_json(),
    }


def read_document(payload: object) -> FormDefinition:
    """The definition in an export document, or DefinitionInvalid naming every problem.

    Problems inside the definition are keyed by their path in the document
    (``"definition.fields[2].type"``), so they point at the line to fix.
    """
    if not isinstance(payload, dict):
        raise DefinitionInvalid({"document": "An export document must be a JSON object."})
    errors: dict[str, str] = {}
    for key in payload:
        if key not in _KEYS:
            errors[str(key)[:64]] = f"Unknown key; an export document has only {', '.join(_KEYS)}."
    if payload.get("format") != FORMAT:
        errors["format"] = f"'format' must be {FORMAT!r}; is this a file exported from a form?"
    elif not _is_version(payload.get("format_version")):
        errors["format_version"] = (
            f"'format_version' must be {FORMAT_VERSION}; this installation reads only that "
            "version of the export format."
        )
    if "definition" not in payload:
        errors["definition"] = "The document has no 'definition'."
    if errors:
        raise DefinitionInvalid(errors)
    try:
        return parse_definition(payload["definition"])
    except DefinitionInvalid as exc:
        raise DefinitionInvalid(
            {_in_definition(key): message for key, message in exc.errors.items()}
        ) from None


def _is_version(value: object) -> bool:
    # JSON true and 1.0 compare equal to 1 in Python; neither is a format version.
    return type(value) is int and value == FORMAT_VERSION


def _in_definition(key: str) -> str:
    return "definition" if key == "definition" else f"definition.{key}"
