"""The form editor's draft: a definition as the editor's inputs hold it, before it is saved.

The editor is one HTML form; each field's inputs are named `fields-<i>-<key>` in the
order they appear. Adding, moving and removing a field post the whole draft back and get
it re-rendered (no script needed); saving turns it into the JSON definition the API takes
and lets core check it, so the console enforces exactly the API's rules. A draft also
renders a preview even while it does not yet pass those rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core.forms.definitions import MAX_FIELDS, FormDefinition
from core.forms.fields import ALWAYS_OFF_RECORD, FIELD_TYPES, FieldSpec
from core.forms.speech import DEFAULT, LANGUAGES
from core.forms.translations import FieldTexts

# Every type core checks, in the order an admin looks for them, with a name people know.
TYPE_LABELS: dict[str, str] = {
    "text": "Text, one line",
    "textarea": "Text, several lines",
    "number": "Number",
    "email": "Email address",
    "phone": "Phone number",
    "date": "Date (YYYY-MM-DD)",
    "select": "Choice from a list",
    "checkbox": "Checkbox (or radio buttons, with options)",
    "card_number": "Card number (Luhn checked)",
    "card_expiry": "Card expiry (MM/YY)",
    "cvv": "Card security code (CVV), always off the record",
    "ssn": "US Social Security number",
    "pin": "PIN",
    "secret_answer": "Answer to a security question",
    "iban": "IBAN",
    "bank_account": "US bank account (routing and account number)",
}
assert set(TYPE_LABELS) == FIELD_TYPES, "every field type needs a name in the editor"

# The optional checks, as posted text; each applies to some types only (core says which).
LIMITS = ("min_length", "max_length", "pattern", "min", "max")
_WHOLE = re.compile(r"-?[0-9]{1,9}")
_NUMBER = re.compile(r"-?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")
_FIELD_ERROR = re.compile(r"^fields\[(\d+)\](?:\.(\w+(?:\.\w+)?))?$")  # ...labels.fr
TEXTS = ("label", "help", "options")  # the boxes of each field's other languages
_TEXT_BOXES = {"labels": "label", "helps": "help", "option_labels": "options"}
_OPS = re.compile(r"^(add|preview|save|up|down|remove)(?:-(\d{1,3}))?$")


@dataclass
class DraftField:
    name: str = ""
    label: str = ""
    type: str = "text"
    required: bool = False
    off_the_record: bool = False
    help: str = ""
    options: str = ""  # one per line
    limits: dict[str, str] = field(default_factory=dict)
    # {language: {"label", "help", "options" (one per line, in the options' order)}}
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def always_off_record(self) -> bool:
        return self.type in ALWAYS_OFF_RECORD

    @property
    def has_more(self) -> bool:
        """Whether its optional settings hold anything (their section starts open)."""
        translated = any(any(t.values()) for t in self.texts.values())
        return bool(self.help or self.options or any(self.limits.values()) or translated)


@dataclass
class Draft:
    name: str = ""
    title: str = ""
    description: str = ""
    version: str = ""  # the version the editor started from ("" for a new form)
    fields: list[DraftField] = field(default_factory=list)
    language: str = DEFAULT  # the language its own texts are written in
    preview_language: str = ""  # the language the preview shows ("": the form's own)


@dataclass(frozen=True)
class Op:
    kind: str  # add | preview | save | up | down | remove
    index: int = -1


def read_op(posted: Mapping[str, str]) -> Op:
    found = _OPS.match(posted.get("op", "save"))
    if found is None:
        return Op("preview")
    return Op(found[1], int(found[2]) if found[2] else -1)


def from_posted(posted: Mapping[str, str]) -> Draft:
    draft = Draft(
        name=posted.get("name", "").strip(),
        title=posted.get("title", "").strip(),
        description=posted.get("description", "").strip(),
        version=posted.get("version", "").strip(),
        language=posted.get("language", DEFAULT).strip(),
        preview_language=posted.get("preview_language", "").strip(),
    )
    for i in range(MAX_FIELDS + 1):
        prefix = f"fields-{i}-"
        if prefix + "type" not in posted and prefix + "label" not in posted:
            break
        kind = posted.get(prefix + "type", "text")
        draft.fields.append(
            DraftField(
                name=posted.get(prefix + "name", "").strip(),
                label=posted.get(prefix + "label", "").strip(),
                type=kind if kind in FIELD_TYPES else "text",
                required=prefix + "required" in posted,
                off_the_record=prefix + "off_the_record" in posted or kind in ALWAYS_OFF_RECORD,
                help=posted.get(prefix + "help", "").strip(),
                options=posted.get(prefix + "options", "").strip(),
                limits={k: posted.get(prefix + k, "").strip() for k in LIMITS},
                texts={
                    lang: {k: posted.get(f"{prefix}{k}-{lang}", "").strip() for k in TEXTS}
                    for lang in LANGUAGES
                },
            )
        )
    return draft


def from_definition(definition: FormDefinition, version: int) -> Draft:
    return Draft(
        name=definition.name,
        title=definition.title,
        description=definition.description or "",
        version=str(version),
        language=definition.language,
        fields=[
            DraftField(
                name=spec.name,
                label=spec.label,
                type=spec.type,
                required=spec.required,
                off_the_record=spec.off_the_record,
                help=spec.help or "",
                options="\n".join(spec.options or ()),
                limits={k: _shown(getattr(spec, k)) for k in LIMITS},
                texts=_draft_texts(spec),
            )
            for spec in definition.fields
        ],
    )


def _draft_texts(spec: FieldSpec) -> dict[str, dict[str, str]]:
    texts = spec.texts or FieldTexts()
    return {
        lang: {
            "label": texts.label(lang) or "",
            "help": texts.help(lang) or "",
            "options": "\n".join(texts.option(lang, o) or "" for o in spec.options or ()).strip(),
        }
        for lang in LANGUAGES
    }


def new_draft() -> Draft:
    return Draft(fields=[DraftField()])


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def apply(draft: Draft, op: Op) -> tuple[Draft, str, str | None]:
    """The draft after an editing step, what to tell the admin, and where focus goes."""
    fields = list(draft.fields)
    i, count = op.index, len(fields)
    if op.kind == "add":
        if count >= MAX_FIELDS:
            return draft, f"A form has at most {MAX_FIELDS} fields.", "add-field"
        fields.append(DraftField())
        return replace(draft, fields=fields), f"Added field {count + 1}.", f"e{count}-label"
    if not 0 <= i < count:
        return draft, "", None
    name = fields[i].label or f"field {i + 1}"
    if op.kind == "remove":
        del fields[i]
        focus = f"e{min(i, len(fields) - 1)}-label" if fields else "add-field"
        return replace(draft, fields=fields), f"Removed field {i + 1}, “{name}”.", focus
    step = -1 if op.kind == "up" else 1
    j = i + step
    if not 0 <= j < count:
        return draft, "", None
    fields[i], fields[j] = fields[j], fields[i]
    # Focus stays on the same button, now in the field's new place, unless it is now
    # disabled (at the top or the bottom), when the other move button takes it.
    at_end = j == 0 if op.kind == "up" else j == count - 1
    button = ("down" if op.kind == "up" else "up") if at_end else op.kind
    said = f"Moved “{name}” {op.kind}; it is now field {j + 1} of {count}."
    return replace(draft, fields=fields), said, f"e{j}-{button}"


# -- to the definition core checks --------------------------------------------------------


def machine_name(text: str, fallback: str) -> str:
    """A field or form name made from its label: lowercase words joined by underscores."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]
    if not name:
        return fallback
    return name if name[0].isalpha() else f"f_{name}"


def to_payload(draft: Draft) -> dict[str, Any]:
    """The JSON definition of the draft; core decides whether it is a valid one."""
    payload: dict[str, Any] = {
        "name": draft.name or machine_name(draft.title, ""),
        "title": draft.title,
        "fields": [_field_payload(f) for f in draft.fields],
    }
    if draft.description:
        payload["description"] = draft.description
    if draft.language != DEFAULT:
        payload["language"] = draft.language
    return payload


def _field_payload(f: DraftField) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": f.name or machine_name(f.label, ""),
        "label": f.label,
        "type": f.type,
        "required": f.required,
        "off_the_record": f.off_the_record,
    }
    if f.help:
        data["help"] = f.help
    options = [line.strip() for line in f.options.splitlines() if line.strip()]
    if options:
        data["options"] = options
    for key in LIMITS:
        raw = f.limits.get(key, "")
        if raw:
            data[key] = _limit_value(key, raw)
    return data | _texts_payload(f, options)


def _texts_payload(f: DraftField, options: list[str]) -> dict[str, Any]:
    """`labels`, `helps` and `option_labels` from the boxes that were filled in."""
    data: dict[str, dict[str, Any]] = {}
    for lang, t in sorted(f.texts.items()):
        if t.get("label"):
            data.setdefault("labels", {})[lang] = t["label"]
        if t.get("help"):
            data.setdefault("helps", {})[lang] = t["help"]
        lines = [line.strip() for line in t.get("options", "").splitlines()]
        shown = {o: line for o, line in zip(options, lines, strict=False) if line}
        if shown:
            data.setdefault("option_labels", {})[lang] = shown
    return data


def _limit_value(key: str, raw: str) -> object:
    # Text that is not a number goes to core as it is, and core names the problem.
    if key in ("min_length", "max_length"):
        return int(raw) if _WHOLE.fullmatch(raw) else raw
    if key in ("min", "max") and _NUMBER.fullmatch(raw):
        number = float(raw)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return raw


# -- errors and preview ---------------------------------------------------------------------

_TOP_ANCHORS = {
    "name": "form-name",
    "title": "form-title",
    "description": "form-description",
    "language": "form-language",
    "fields": "add-field",
}


def split_errors(errors: Mapping[str, str]) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """Core's errors ("fields[2].label") as the form's own and each field's."""
    top: dict[str, str] = {}
    per_field: dict[int, dict[str, str]] = {}
    for key, message in errors.items():
        found = _FIELD_ERROR.match(key)
        if found is None:
            top[key] = message
        else:
            per_field.setdefault(int(found[1]), {})[found[2] or "label"] = message
    return top, per_field


def without_echoes(errors: Mapping[str, str], draft: Draft) -> dict[str, str]:
    """Core's errors less those about a name that was to be made from an empty title or
    label: the error about that title or label already says what to do."""
    echoes = set()
    if not draft.name and not draft.title:
        echoes.add("name")
    for i, f in enumerate(draft.fields):
        if not f.name and not f.label:
            echoes.add(f"fields[{i}].name")
    return {k: m for k, m in errors.items() if k not in echoes}


def anchor(key: str) -> str | None:
    """Where a link in the error summary takes the admin for one of core's error keys."""
    if key in _TOP_ANCHORS:
        return "#" + _TOP_ANCHORS[key]
    found = _FIELD_ERROR.match(key)
    if found is None:
        return None
    part = found[2] or "label"
    if part == "off_the_record":
        part = "otr"
    key, _, lang = part.partition(".")
    if lang in LANGUAGES and key in _TEXT_BOXES:  # a translation: its own box
        return f"#e{found[1]}-{_TEXT_BOXES[key]}-{lang}"
    known = {"name", "label", "type", "required", "otr", "help", "options", *LIMITS}
    return f"#e{found[1]}-{part if part in known else 'label'}"


# Core names the JSON keys ('min_length'); the editor says what its labels say.
_KEY_NAMES = {
    "name": "The name",
    "title": "The title",
    "description": "The description",
    "fields": "The fields",
    "label": "The label",
    "type": "The type",
    "required": "“Must answer”",
    "off_the_record": "“Off the record”",
    "help": "The help text",
    "options": "Options",
    "min_length": "“Fewest characters”",
    "max_length": "“Most characters”",
    "pattern": "The pattern",
    "min": "“Lowest number”",
    "max": "“Highest number”",
}
_QUOTED_KEY = re.compile(r"'(" + "|".join(_KEY_NAMES) + r")'")


def plain(message: str) -> str:
    """Core's message in the editor's words: "'min_length' must be…" as the box is named."""
    return _QUOTED_KEY.sub(lambda m: _KEY_NAMES[m[1]], message)


def summary_message(key: str, message: str) -> str:
    found = _FIELD_ERROR.match(key)
    return f"Field {int(found[1]) + 1}: {plain(message)}" if found else plain(message)


def preview_fields(draft: Draft) -> list[FieldSpec]:
    """The draft's fields as the visitor's form would show them, even if not yet valid:
    every one gets a distinct name, so the preview's controls get distinct ids."""
    specs: list[FieldSpec] = []
    used: set[str] = set()
    for i, f in enumerate(draft.fields):
        name = f.name or machine_name(f.label, f"field_{i + 1}")
        if name in used:
            name = f"{name}_{i + 1}"
        used.add(name)
        options = tuple(line.strip() for line in f.options.splitlines() if line.strip())
        specs.append(
            FieldSpec(
                name=name,
                label=f.label or f"Field {i + 1} (no label yet)",
                type=f.type,
                required=f.required,
                off_the_record=f.off_the_record,
                help=f.help or None,
                options=options or None,
                texts=FieldTexts(
                    tuple((lang, t["label"]) for lang, t in f.texts.items() if t.get("label")),
                    tuple((lang, t["help"]) for lang, t in f.texts.items() if t.get("help")),
                    tuple(
                        (lang, tuple(zip(options, t["options"].splitlines(), strict=False)))
                        for lang, t in f.texts.items()
                        if t.get("options")
                    ),
                ),
            )
        )
    return specs
