"""Checking a secure form definition when an admin saves it.

Everything that ``fields.validate_values`` relies on (known types, compilable patterns,
sane limits, select options) is enforced here, so a stored definition can always be
used to check a submission. All problems are reported at once, keyed by the path of
the offending JSON value (``"fields[2].type"``), so an editor can point at each one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from core.text import encodable

from .fields import ALWAYS_OFF_RECORD, FIELD_TYPES, OFF_RECORD_BY_DEFAULT, FieldSpec
from .patterns import PatternRefused, compiled
from .speech import DEFAULT, LANGUAGES
from .translations import TEXT_KEYS, read_texts

# Threaded through the field readers without widening every signature for one rule.
_READING_STORED: ContextVar[bool] = ContextVar("reading_stored_definition", default=False)

MAX_FIELDS = 50
MAX_OPTIONS = 100
MAX_LENGTH_LIMIT = 10_000
MAX_PATTERN = 200

_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Line breaks make sense in help and descriptions, nowhere else.
_LINE_BREAKS = frozenset("\n\r\t")
_TOP_KEYS = ("name", "title", "description", "language", "fields")
_FIELD_KEYS = (
    "name",
    "label",
    "type",
    "required",
    "off_the_record",
    "help",
    "options",
    "min_length",
    "max_length",
    "pattern",
    "min",
    "max",
    *TEXT_KEYS,
)
# A constraint that the checker for a type ignores must not be accepted silently: the
# admin would believe it is enforced.
_APPLIES_TO = {
    "options": frozenset({"select", "checkbox"}),
    "min_length": frozenset({"text", "textarea", "secret_answer", "pin"}),
    "max_length": frozenset({"text", "textarea", "secret_answer", "pin"}),
    "pattern": frozenset({"text", "textarea", "secret_answer"}),
    "min": frozenset({"number"}),
    "max": frozenset({"number"}),
}


@dataclass(frozen=True, slots=True)
class FormDefinition:
    name: str
    title: str
    description: str | None
    fields: tuple[FieldSpec, ...]
    language: str = DEFAULT  # what the form's own texts are written in

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"name": self.name, "title": self.title}
        if self.description is not None:
            data["description"] = self.description
        if self.language != DEFAULT:
            data["language"] = self.language
        data["fields"] = [spec.to_json() for spec in self.fields]
        return data

    @property
    def off_record_names(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.fields if spec.off_the_record)


class DefinitionInvalid(Exception):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("form definition is invalid: " + ", ".join(self.errors))


def parse_definition(payload: object, *, stored: bool = False) -> FormDefinition:
    """Check decoded JSON and return the definition, or raise DefinitionInvalid.

    `stored`: a version read back from the app DB. It passed the rules of the day it was
    saved; a pattern those rules allowed and RE2 refuses is kept (it then matches
    nothing, see patterns.fullmatches), so the form still opens, lists and edits.
    """
    token = _READING_STORED.set(stored)
    try:
        return _parse_definition(payload)
    finally:
        _READING_STORED.reset(token)


def _parse_definition(payload: object) -> FormDefinition:
    if not isinstance(payload, dict):
        raise DefinitionInvalid({"definition": "A form definition must be an object."})
    reader = _Reader(payload, "", {})
    reader.reject_unknown(_TOP_KEYS)
    name = reader.name("name")
    title = reader.text("title", limit=200, required=True)
    description = reader.text("description", limit=2000, multiline=True)
    language = payload.get("language", DEFAULT)
    if language not in LANGUAGES:
        reader.fail("language", f"'language' must be one of {', '.join(LANGUAGES)}.")
    fields = _parse_fields(payload.get("fields"), "fields" in payload, reader.errors)
    if reader.errors or name is None or title is None:
        raise DefinitionInvalid(reader.errors)
    return FormDefinition(name, title, description, fields, str(language))


class _Reader:
    """Reads typed keys from one JSON object, recording an error per bad key."""

    def __init__(self, data: Mapping[str, object], path: str, errors: dict[str, str]) -> None:
        self.data = data
        self.path = path
        self.errors = errors

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(self.path + key, message)

    def reject_unknown(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                self.fail(str(key), f"Unknown key; use only {', '.join(allowed)}.")

    def present(self, key: str) -> bool:
        # JSON null is how some editors write "not set"; treat it as absent.
        return self.data.get(key) is not None

    def text(
        self, key: str, *, limit: int, required: bool = False, multiline: bool = False
    ) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, f"'{key}' is required.")
            return None
        if not isinstance(value, str):
            self.fail(key, f"'{key}' must be a string.")
        elif required and not value.strip():
            self.fail(key, f"'{key}' must not be blank.")
        elif len(value) > limit:
            self.fail(key, f"'{key}' must be at most {limit} characters.")
        elif (problem := _text_problem(value, multiline)) is not None:
            self.fail(key, f"'{key}' {problem}")
        else:
            return value
        return None

    def name(self, key: str) -> str | None:
        value = self.text(key, limit=64, required=True)
        if value is not None and not _NAME.fullmatch(value):
            self.fail(
                key,
                f"'{key}' must start with a lowercase letter and use only lowercase "
                "letters, digits and underscores.",
            )
            return None
        return value

    def flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.fail(key, f"'{key}' must be true or false.")
        return None

    def count(self, key: str, *, low: int, high: int) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"'{key}' must be a whole number.")
        elif not low <= value <= high:
            self.fail(key, f"'{key}' must be between {low} and {high}.")
        else:
            return value
        return None

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"'{key}' must be a number.")
        elif not math.isfinite(value) or abs(value) >= 1e30:
            self.fail(key, f"'{key}' must be a finite number below 1e30.")
        else:
            return value
        return None

    def options(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
            self.fail(key, f"'{key}' must be a list of strings.")
        elif not 1 <= len(value) <= MAX_OPTIONS:
            self.fail(key, f"'{key}' must have 1 to {MAX_OPTIONS} entries.")
        elif not all(o.strip() and len(o) <= 200 for o in value):
            self.fail(key, f"Each of '{key}' must be 1 to 200 characters, not blank.")
        elif any(_text_problem(o, multiline=False) for o in value):
            self.fail(key, f"Each of '{key}' must be plain text on one line.")
        elif len(set(value)) != len(value):
            self.fail(key, f"'{key}' must not repeat an entry.")
        else:
            return tuple(value)
        return None


def _parse_fields(raw: object, given: bool, errors: dict[str, str]) -> tuple[FieldSpec, ...]:
    if not given or raw is None:
        errors["fields"] = "A form needs a 'fields' list with at least one field."
        return ()
    if not isinstance(raw, list):
        errors["fields"] = "'fields' must be a list of field objects."
        return ()
    if not 1 <= len(raw) <= MAX_FIELDS:
        errors["fields"] = f"A form must have 1 to {MAX_FIELDS} fields; it has {len(raw)}."
        return ()
    specs: list[FieldSpec] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(raw):
        path = f"fields[{index}]."
        if not isinstance(item, dict):
            errors[path[:-1]] = "Each field must be an object."
            continue
        spec = _parse_field(_Reader(item, path, errors))
        # Checked on the raw name so that a clash is reported even when the other
        # field has problems of its own.
        name = item.get("name")
        if isinstance(name, str) and first_use.setdefault(name, index) != index:
            errors.setdefault(
                path + "name",
                f"This name is already used by fields[{first_use[name]}]; "
                "field names must be unique.",
            )
        elif spec is not None:
            specs.append(spec)
    return tuple(specs)


def _parse_field(reader: _Reader) -> FieldSpec | None:
    before = len(reader.errors)
    reader.reject_unknown(_FIELD_KEYS)
    name = reader.name("name")
    label = reader.text("label", limit=200, required=True)
    kind = reader.text("type", limit=64, required=True)
    if kind is not None and kind not in FIELD_TYPES:
        reader.fail("type", f"Unknown type; use one of {', '.join(sorted(FIELD_TYPES))}.")
    for key, types in _APPLIES_TO.items():
        if kind in FIELD_TYPES and reader.present(key) and kind not in types:
            reader.fail(key, f"'{key}' does not apply to {kind} fields.")
    required = reader.flag("required")
    off_the_record = reader.flag("off_the_record")
    options = reader.options("options")
    spec = FieldSpec(
        name=name or "",
        label=label or "",
        type=kind or "",
        required=bool(required),
        off_the_record=_effective_off_record(kind or "", off_the_record),
        help=reader.text("help", limit=500, multiline=True),
        options=options,
        min_length=reader.count("min_length", low=0, high=MAX_LENGTH_LIMIT),
        max_length=reader.count("max_length", low=1, high=MAX_LENGTH_LIMIT),
        pattern=_pattern(reader),
        min=reader.number("min"),
        max=reader.number("max"),
        texts=read_texts(reader.data, options, reader.fail, _text_problem),
    )
    _check_consistency(reader, spec)
    return spec if len(reader.errors) == before else None


def _effective_off_record(kind: str, given: bool | None) -> bool:
    if kind in ALWAYS_OFF_RECORD:
        return True
    return kind in OFF_RECORD_BY_DEFAULT if given is None else given


def _pattern(reader: _Reader) -> str | None:
    pattern = reader.text("pattern", limit=MAX_PATTERN)
    if pattern is None:
        return None
    try:
        compiled(pattern)
    except PatternRefused as exc:
        if _READING_STORED.get():
            return pattern
        reader.fail(
            "pattern",
            f"'pattern' cannot be used: {exc}. Patterns are matched in linear time, so "
            "backreferences, lookarounds and possessive repeats are not available.",
        )
        return None
    return pattern


def _text_problem(value: str, multiline: bool) -> str | None:
    """Why a label-like string cannot be shown as it is, or None."""
    if not encodable(value):
        return "contains characters that are not valid Unicode text."
    allowed = _LINE_BREAKS if multiline else frozenset()
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        return "must not contain control characters" + (
            " other than line breaks and tabs." if multiline else " or line breaks."
        )
    return None


def _check_consistency(reader: _Reader, spec: FieldSpec) -> None:
    # fail() keeps the first message, so a more specific complaint about a bad
    # options list is not overwritten here.
    if spec.type == "select" and spec.options is None:
        reader.fail("options", f"A select field needs 1 to {MAX_OPTIONS} options.")
    low, high = spec.min_length, spec.max_length
    if low is not None and high is not None and low > high:
        reader.fail("min_length", "'min_length' must not be more than 'max_length'.")
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        reader.fail("min", "'min' must not be more than 'max'.")
