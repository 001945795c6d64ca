from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.forms.definitions import (
    MAX_FIELDS,
    DefinitionInvalid,
    FormDefinition,
    parse_definition,
)
from core.forms.fields import FIELD_TYPES, FieldSpec, validate_values
from core.forms.transfer import export_document, read_document


def payload(*fields: dict[str, Any], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "payment", "title": "Pay your invoice"}
    data["fields"] = list(fields) or [{"name": "card", "label": "Card", "type": "card_number"}]
    data.update(top)
    return data


def errors_of(data: object) -> dict[str, str]:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(data)
    return caught.value.errors


def test_minimal_definition() -> None:
    definition = parse_definition(payload())
    assert definition == FormDefinition(
        name="payment",
        title="Pay your invoice",
        description=None,
        fields=(FieldSpec("card", "Card", "card_number"),),
    )
    assert definition.to_json() == {
        "name": "payment",
        "title": "Pay your invoice",
        "fields": [
            {
                "name": "card",
                "label": "Card",
                "type": "card_number",
                "required": False,
                "off_the_record": False,
            }
        ],
    }


def test_every_field_key_is_read() -> None:
    definition = parse_definition(
        payload(
            {
                "name": "ref",
                "label": "Reference",
                "type": "text",
                "required": True,
                "off_the_record": True,
                "help": "Three letters, a dash and four digits.",
                "min_length": 8,
                "max_length": 8,
                "pattern": "[A-Z]{3}-[0-9]{4}",
            },
            {"name": "amount", "label": "Amount", "type": "number", "min": 1, "max": 99.5},
            {"name": "size", "label": "Size", "type": "select", "options": ["S", "M"]},
            description="Takes a minute.",
        )
    )
    ref, amount, size = definition.fields
    assert ref == FieldSpec(
        "ref",
        "Reference",
        "text",
        required=True,
        off_the_record=True,
        help="Three letters, a dash and four digits.",
        min_length=8,
        max_length=8,
        pattern="[A-Z]{3}-[0-9]{4}",
    )
    assert (amount.min, amount.max) == (1, 99.5)
    assert size.options == ("S", "M")
    assert definition.description == "Takes a minute."
    assert definition.off_record_names == {"ref"}
    assert parse_definition(definition.to_json()) == definition


def test_parsed_definition_drives_validation() -> None:
    definition = parse_definition(
        payload({"name": "ref", "label": "Reference", "type": "text", "pattern": "[A-Z]+"})
    )
    assert validate_values(definition.fields, {"ref": "ABC"}) == {"ref": "ABC"}


@pytest.mark.parametrize(
    ("kind", "given_flag", "effective"),
    [
        ("cvv", None, True),
        ("cvv", False, True),
        ("cvv", True, True),
        ("pin", None, True),
        ("pin", False, False),
        ("secret_answer", None, True),
        ("secret_answer", False, False),
        ("text", None, False),
        ("text", True, True),
        ("card_number", None, False),
        ("ssn", True, True),
    ],
)
def test_effective_off_the_record(kind: str, given_flag: bool | None, effective: bool) -> None:
    field: dict[str, Any] = {"name": "f", "label": "F", "type": kind}
    if given_flag is not None:
        field["off_the_record"] = given_flag
    definition = parse_definition(payload(field))
    assert definition.fields[0].off_the_record is effective
    assert definition.off_record_names == ({"f"} if effective else set())


def field(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "f", "label": "F", "type": "text"}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


UNKNOWN_TYPE = "Unknown type; use one of " + ", ".join(sorted(FIELD_TYPES)) + "."
UNKNOWN_FIELD_KEY = (
    "Unknown key; use only name, label, type, required, off_the_record, help, options, "
    "min_length, max_length, pattern, min, max, labels, helps, option_labels."
)
LINEAR_ONLY = (
    "Patterns are matched in linear time, so backreferences, lookarounds and possessive "
    "repeats are not available."
)
BAD_PATTERN = f"'pattern' cannot be used: missing ). {LINEAR_ONLY}"
NAME_RULE = (
    "'name' must start with a lowercase letter and use only lowercase letters, digits "
    "and underscores."
)

# (top-level changes, expected errors)
TOP_ERRORS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"name": "Payment"}, {"name": NAME_RULE}),
    ({"name": "1pay"}, {"name": NAME_RULE}),
    ({"name": "pay-now"}, {"name": NAME_RULE}),
    ({"name": "p" * 65}, {"name": "'name' must be at most 64 characters."}),
    ({"name": ""}, {"name": "'name' must not be blank."}),
    ({"name": 7}, {"name": "'name' must be a string."}),
    ({"name": None}, {"name": "'name' is required."}),
    ({"title": "   "}, {"title": "'title' must not be blank."}),
    ({"title": "t" * 201}, {"title": "'title' must be at most 200 characters."}),
    ({"description": ["x"]}, {"description": "'description' must be a string."}),
    (
        {"colour": "red"},
        {"colour": "Unknown key; use only name, title, description, language, fields."},
    ),
    ({"fields": []}, {"fields": "A form must have 1 to 50 fields; it has 0."}),
    ({"fields": {"a": 1}}, {"fields": "'fields' must be a list of field objects."}),
    ({"fields": None}, {"fields": "A form needs a 'fields' list with at least one field."}),
    ({"fields": ["card"]}, {"fields[0]": "Each field must be an object."}),
]


@pytest.mark.parametrize(("changes", "expected"), TOP_ERRORS)
def test_top_level_errors(changes: dict[str, Any], expected: dict[str, str]) -> None:
    assert errors_of(payload(**changes)) == expected


def test_missing_keys() -> None:
    assert errors_of({}) == {
        "name": "'name' is required.",
        "title": "'title' is required.",
        "fields": "A form needs a 'fields' list with at least one field.",
    }


@pytest.mark.parametrize("data", [None, [], "form", 3])
def test_payload_must_be_an_object(data: object) -> None:
    assert errors_of(data) == {"definition": "A form definition must be an object."}


FIELD_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    (field(name="F"), "name", NAME_RULE),
    (field(name=...), "name", "'name' is required."),
    (field(label=""), "label", "'label' must not be blank."),
    (field(label="l" * 201), "label", "'label' must be at most 200 characters."),
    (field(type="password"), "type", UNKNOWN_TYPE),
    (field(type=...), "type", "'type' is required."),
    (field(required="yes"), "required", "'required' must be true or false."),
    (field(off_the_record=1), "off_the_record", "'off_the_record' must be true or false."),
    (field(help="h" * 501), "help", "'help' must be at most 500 characters."),
    (field(placeholder="x"), "placeholder", UNKNOWN_FIELD_KEY),
    (field(min_length=1.5), "min_length", "'min_length' must be a whole number."),
    (field(min_length=True), "min_length", "'min_length' must be a whole number."),
    (field(min_length=-1), "min_length", "'min_length' must be between 0 and 10000."),
    (field(max_length=0), "max_length", "'max_length' must be between 1 and 10000."),
    (field(max_length=10_001), "max_length", "'max_length' must be between 1 and 10000."),
    (
        field(min_length=9, max_length=8),
        "min_length",
        "'min_length' must not be more than 'max_length'.",
    ),
    (field(pattern="("), "pattern", BAD_PATTERN),
    (field(pattern="a" * 201), "pattern", "'pattern' must be at most 200 characters."),
    (field(pattern=5), "pattern", "'pattern' must be a string."),
    (field(type="number", min="1"), "min", "'min' must be a number."),
    (field(type="number", max=False), "max", "'max' must be a number."),
    (field(type="number", max=float("inf")), "max", "'max' must be a finite number below 1e30."),
    (field(type="number", min=5, max=4), "min", "'min' must not be more than 'max'."),
    (field(type="select"), "options", "A select field needs 1 to 100 options."),
    (field(type="select", options=[]), "options", "'options' must have 1 to 100 entries."),
    (
        field(type="select", options=[str(n) for n in range(101)]),
        "options",
        "'options' must have 1 to 100 entries.",
    ),
    (field(type="select", options="a,b"), "options", "'options' must be a list of strings."),
    (field(type="select", options=["a", 2]), "options", "'options' must be a list of strings."),
    (
        field(type="select", options=["a", " "]),
        "options",
        "Each of 'options' must be 1 to 200 characters, not blank.",
    ),
    (field(type="select", options=["a", "a"]), "options", "'options' must not repeat an entry."),
    (field(options=["a"]), "options", "'options' does not apply to text fields."),
    (
        field(type="card_number", max_length=19),
        "max_length",
        "'max_length' does not apply to card_number fields.",
    ),
    (field(type="pin", pattern="[0-9]+"), "pattern", "'pattern' does not apply to pin fields."),
    (field(type="email", min=1), "min", "'min' does not apply to email fields."),
]


@pytest.mark.parametrize(("data", "key", "message"), FIELD_ERRORS)
def test_field_errors(data: dict[str, Any], key: str, message: str) -> None:
    errors = errors_of(payload(field(name="ok"), data))
    assert errors == {f"fields[1].{key}": message}


def test_constraints_that_apply_are_accepted() -> None:
    parse_definition(
        payload(
            field(name="a", type="pin", min_length=6, max_length=6),
            field(name="b", type="checkbox", options=["yes please"]),
            field(name="c", type="textarea", max_length=10_000, min_length=0),
            field(name="d", type="secret_answer", pattern="[a-z]+"),
            field(name="e", help=None, min=None),
        )
    )


def test_duplicate_field_names_are_reported_even_next_to_other_errors() -> None:
    errors = errors_of(payload(field(name="a", type="nope"), field(name="a")))
    assert errors == {
        "fields[0].type": UNKNOWN_TYPE,
        "fields[1].name": ("This name is already used by fields[0]; field names must be unique."),
    }


def test_field_count_limits() -> None:
    many = [field(name=f"f{n}") for n in range(MAX_FIELDS)]
    assert len(parse_definition(payload(*many)).fields) == MAX_FIELDS
    too_many = [*many, field(name="extra")]
    assert errors_of(payload(*too_many)) == {
        "fields": f"A form must have 1 to {MAX_FIELDS} fields; it has {MAX_FIELDS + 1}."
    }


def test_all_errors_at_once_and_keys_in_exception_text() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(payload(field(type="x"), field(name="b", required=1), name="X"))
    assert set(caught.value.errors) == {"name", "fields[0].type", "fields[1].required"}
    assert str(caught.value).startswith("form definition is invalid: ")
    assert "fields[1].required" in str(caught.value)


def test_parsing_does_not_change_the_payload() -> None:
    data = payload(field(name="a", type="select", options=["x", "y"]))
    before = copy.deepcopy(data)
    parse_definition(data)
    assert data == before


names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
# Labels are any printable text: control characters and lone surrogates are refused.
label_chars = st.characters(blacklist_categories=("Cc", "Cs"))
labels = st.text(label_chars, min_size=1, max_size=40).filter(str.strip)


@st.composite
def field_payloads(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(FIELD_TYPES)))
    data: dict[str, Any] = {"name": name, "label": draw(labels), "type": kind}
    for key in ("required", "off_the_record"):
        if draw(st.booleans()):
            data[key] = draw(st.booleans())
    if draw(st.booleans()):
        data["help"] = draw(st.text(label_chars, max_size=50))
    if kind in {"select", "checkbox"} and (kind == "select" or draw(st.booleans())):
        data["options"] = draw(st.lists(labels, min_size=1, max_size=5, unique=True))
    if kind in {"text", "textarea", "secret_answer", "pin"} and draw(st.booleans()):
        low = draw(st.integers(0, 50))
        data.update(min_length=low, max_length=draw(st.integers(max(low, 1), 500)))
    if kind in {"text", "textarea", "secret_answer"} and draw(st.booleans()):
        data["pattern"] = draw(st.sampled_from([".*", "[A-Z]{2}[0-9]+", "(yes|no)"]))
    if kind == "number" and draw(st.booleans()):
        bottom = draw(st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6))
        data.update(min=bottom, max=bottom + draw(st.integers(0, 1000)))
    return data


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    field_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    data: dict[str, Any] = {"name": draw(names), "title": draw(labels)}
    if draw(st.booleans()):
        data["description"] = draw(st.text(label_chars, max_size=100))
    data["fields"] = [draw(field_payloads(name)) for name in field_names]
    return data


@given(definitions())
def test_any_definition_survives_export_json_and_import(data: dict[str, Any]) -> None:
    definition = parse_definition(data)
    doc = export_document(definition, form_id="x", version=1, exported_at="t")
    assert read_document(json.loads(json.dumps(doc))) == definition


@given(definitions())
def test_valid_definitions_round_trip_through_json(data: dict[str, Any]) -> None:
    definition = parse_definition(data)
    assert parse_definition(definition.to_json()) == definition
    assert [spec.name for spec in definition.fields] == [f["name"] for f in data["fields"]]
    for spec in definition.fields:
        if spec.type == "cvv":
            assert spec.off_the_record
    assert definition.off_record_names == {
        spec.name for spec in definition.fields if spec.off_the_record
    }


CONTROL = "must not contain control characters or line breaks."
NOT_UNICODE = "contains characters that are not valid Unicode text."

TEXT_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    (field(label="Card\nnumber"), "label", f"'label' {CONTROL}"),
    (field(label="Card\x00"), "label", f"'label' {CONTROL}"),
    (field(label="Card \ud800"), "label", f"'label' {NOT_UNICODE}"),
    (
        field(help="beep\x07"),
        "help",
        "'help' must not contain control characters other than line breaks and tabs.",
    ),
    (field(help="\udfff"), "help", f"'help' {NOT_UNICODE}"),
    (
        field(type="select", options=["a", "b\nc"]),
        "options",
        "Each of 'options' must be plain text on one line.",
    ),
    (
        field(type="select", options=["a", "\ud800"]),
        "options",
        "Each of 'options' must be plain text on one line.",
    ),
]


@pytest.mark.parametrize(("data", "key", "message"), TEXT_ERRORS)
def test_text_and_pattern_errors(data: dict[str, Any], key: str, message: str) -> None:
    assert errors_of(payload(field(name="ok"), data)) == {f"fields[1].{key}": message}


def test_title_with_a_line_break_and_description_with_one() -> None:
    assert errors_of(payload(title="Pay\nnow")) == {"title": f"'title' {CONTROL}"}
    definition = parse_definition(payload(description="Line one.\nLine two.\tTabbed."))
    assert definition.description == "Line one.\nLine two.\tTabbed."


def test_markup_in_labels_and_help_is_stored_as_text_unchanged() -> None:
    label = '<script>alert("x")</script> & <b>Card</b>'
    definition = parse_definition(payload(field(label=label, help="<img src=x onerror=y>")))
    assert definition.fields[0].label == label
    assert definition.fields[0].help == "<img src=x onerror=y>"
    assert definition.to_json()["fields"] == [
        {
            "name": "f",
            "label": label,
            "type": "text",
            "required": False,
            "off_the_record": False,
            "help": "<img src=x onerror=y>",
        }
    ]


def test_labels_helps_and_options_in_other_languages() -> None:
    definition = parse_definition(
        {
            "name": "card",
            "title": "Card",
            "language": "en",
            "fields": [
                {
                    "name": "plan",
                    "label": "Plan",
                    "labels": {"fr": "Formule", "es": "Plan"},
                    "help": "Pick one",
                    "helps": {"de": "Bitte wählen"},
                    "type": "select",
                    "options": ["Gold", "Silver"],
                    "option_labels": {"fr": {"Silver": "Argent"}},
                }
            ],
        }
    )
    spec = definition.fields[0]
    assert spec.shown_label("fr") == "Formule" and spec.shown_label("de") == "Plan"
    assert spec.texts is not None
    assert spec.texts.help("de") == "Bitte wählen" and spec.texts.help("fr") is None
    assert spec.texts.option("fr", "Silver") == "Argent"
    assert spec.texts.option("fr", "Gold") is None  # falls back to the form's own
    assert spec.to_json()["option_labels"] == {"fr": {"Silver": "Argent"}}
    assert parse_definition(definition.to_json()) == definition  # round trip


@pytest.mark.parametrize(
    ("texts", "path"),
    [
        ({"labels": {"ar": "x"}}, "fields[0].labels.ar"),
        ({"labels": ["fr"]}, "fields[0].labels"),
        ({"labels": {"fr": " "}}, "fields[0].labels.fr"),
        ({"labels": {"fr": "a\nb"}}, "fields[0].labels.fr"),
        ({"helps": {"fr": "x" * 501}}, "fields[0].helps.fr"),
        ({"option_labels": {"fr": {"Bronze": "Bronze"}}}, "fields[0].option_labels.fr"),
        ({"option_labels": {"fr": ["Or"]}}, "fields[0].option_labels.fr"),
    ],
)
def test_bad_translations_are_named_by_path(texts: dict[str, object], path: str) -> None:
    field = {"name": "plan", "label": "Plan", "type": "select", "options": ["Gold"], **texts}
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition({"name": "f", "title": "F", "fields": [field]})
    assert set(refused.value.errors) == {path}


def test_the_forms_own_language_is_one_the_pages_speak() -> None:
    field = {"name": "a", "label": "A", "type": "text"}
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition({"name": "f", "title": "F", "language": "ar", "fields": [field]})
    assert set(refused.value.errors) == {"language"}
