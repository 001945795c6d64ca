"""How each field type looks on the visitor's form: control, keyboard, autofill, hints.

Which answers may be put back after a failed submit: only those a visitor would not mind
seeing on screen again and that are not kept off the record (names, emails, dates,
choices...). Card data, security codes, PINs, secret answers, SSNs and bank details are
never echoed into the page: the visitor types them again, and no copy of them ever sits
in an HTML response, a browser's back/forward cache or a proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from babel.dates import format_date

from api import i18n
from api.i18n import N_, gettext_
from core.forms.fields import FieldSpec
from core.forms.translations import FieldTexts

INPUT_PREFIX = "v_"
REFILLABLE = frozenset({"text", "textarea", "number", "email", "phone", "date", "select"})
REFILLABLE_CHOICE = frozenset({"checkbox"})

# type -> (input type, inputmode, autocomplete, hint)
_CONTROLS: dict[str, tuple[str, str | None, str, str | None]] = {
    "text": ("text", None, "off", None),
    "number": ("text", "decimal", "off", N_("A number, like 42 or 3.5.")),
    "email": ("email", "email", "email", N_("Like name@example.com.")),
    "phone": ("tel", "tel", "tel", N_("Start with + and the country code, like +44 20 7946 0958.")),
    # The answer is typed as ISO 8601 in every language; the example's date is said the
    # reader's way by Babel ("31 juillet 2024"), so the order of the parts is clear.
    "date": ("text", "numeric", "off", N_("Year, month and day, like 2024-07-31 for %(date)s.")),
    "card_number": (
        "text",
        "numeric",
        "cc-number",
        N_("The 12 to 19 digits on the front of your card."),
    ),
    "card_expiry": ("text", "numeric", "cc-exp", N_("Month and year, like 08/27.")),
    "cvv": (
        "text",
        "numeric",
        "cc-csc",
        N_("The 3 digits on the back of your card (4 on the front for American Express)."),
    ),
    "ssn": ("text", "numeric", "off", N_("9 digits, like 123-45-6789.")),
    "pin": ("password", "numeric", "off", None),
    "secret_answer": ("text", None, "off", None),
    "iban": ("text", None, "off", N_("Starts with the 2-letter country code.")),
    "bank_account": (
        "text",
        "numeric",
        "off",
        N_("The 9-digit routing number, then the account number."),
    ),
}
_SENSITIVE = frozenset(
    {"card_number", "card_expiry", "cvv", "ssn", "pin", "secret_answer", "iban", "bank_account"}
)
_NAME_ON_CARD = ("name", "holder")


@dataclass(frozen=True)
class Option:
    value: str  # what is posted and checked: always the form's own
    text: str  # what the visitor reads
    lang: str | None = None  # as FieldView.label_lang


@dataclass(frozen=True)
class FieldView:
    name: str
    id: str
    input_name: str
    label: str
    kind: str  # input | textarea | select | checkbox | radios
    required: bool
    input_type: str = "text"
    inputmode: str | None = None
    autocomplete: str = "off"
    help: str | None = None  # the admin's help text
    type_hint: str | None = None  # the product's, in the page's language
    error: str | None = None
    value: str = ""
    options: tuple[Option, ...] = ()
    sensitive: bool = False
    # Set where the form's own text shows in a page of another language (no translation):
    # the language that text is in, for its `lang` attribute.
    label_lang: str | None = None
    help_lang: str | None = None

    @property
    def hint(self) -> str | None:
        return " ".join(part for part in (self.help, self.type_hint) if part) or None

    @property
    def hint_id(self) -> str:
        return f"{self.id}-hint"

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def describedby(self) -> str:
        ids = [self.hint_id] if self.hint else []
        if self.error:
            ids.append(self.error_id)
        return " ".join(ids)

    @property
    def focus_id(self) -> str:
        """Where an error summary link takes the visitor (the first radio of a group)."""
        return f"{self.id}-1" if self.kind == "radios" else self.id


_EXAMPLE_DAY = date(2024, 7, 31)


def _type_hint(hint: str | None) -> str | None:
    if hint is None:
        return None
    if "%(date)s" in hint:
        said = format_date(_EXAMPLE_DAY, format="long", locale=i18n.current())
        return gettext_(hint, date=str(said))
    return gettext_(hint)


class _Said(NamedTuple):
    text: str
    lang: str | None


def may_refill(spec: FieldSpec) -> bool:
    if spec.off_the_record:
        return False
    return spec.type in REFILLABLE or spec.type in REFILLABLE_CHOICE


def _autocomplete(spec: FieldSpec, fields: Sequence[FieldSpec]) -> str:
    # The name on a card form is the one text field browsers can fill from a saved card.
    on_card_form = any(f.type == "card_number" for f in fields)
    if spec.type == "text" and on_card_form and any(w in spec.name for w in _NAME_ON_CARD):
        return "cc-name"
    return _CONTROLS.get(spec.type, ("text", None, "off", None))[2]


def _shown(translated: str | None, own: str, language: str, own_language: str) -> _Said:
    """A form text in the page's language where the form has it, else its own (marked with
    the form's language when that is not the page's)."""
    if translated:
        return _Said(translated, None)
    return _Said(own, own_language if own_language != language else None)


def field_views(
    fields: Sequence[FieldSpec],
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    *,
    language: str = i18n.DEFAULT,
    form_language: str = i18n.DEFAULT,
) -> list[FieldView]:
    """How each field shows in a page of `language`; the form's texts are `form_language`."""
    errors = errors or {}
    values = values or {}
    views = []
    for spec in fields:
        input_type, inputmode, _auto, type_hint = _CONTROLS.get(
            spec.type, ("text", None, "off", None)
        )
        if spec.type == "textarea":
            kind = "textarea"
        elif spec.type == "select":
            kind = "select"
        elif spec.type == "checkbox":
            kind = "radios" if spec.options else "checkbox"
        else:
            kind = "input"
        texts = spec.texts or FieldTexts()

        def shown(translated: str | None, own: str) -> _Said:
            return _shown(translated, own, language, form_language)

        label = shown(texts.label(language), spec.label)
        helped = shown(texts.help(language), spec.help or "")
        options = tuple(
            Option(option, *shown(texts.option(language, option), option))
            for option in spec.options or ()
        )
        views.append(
            FieldView(
                name=spec.name,
                id=f"f-{spec.name}",
                input_name=INPUT_PREFIX + spec.name,
                label=label.text or spec.name,
                label_lang=label.lang,
                kind=kind,
                required=spec.required,
                input_type=input_type,
                inputmode=inputmode,
                autocomplete=_autocomplete(spec, fields),
                help=helped.text or None,
                help_lang=helped.lang if helped.text else None,
                type_hint=_type_hint(type_hint),
                error=errors.get(spec.name),
                value=values.get(spec.name, "") if may_refill(spec) else "",
                options=options,
                sensitive=spec.type in _SENSITIVE or spec.off_the_record,
            )
        )
    return views


def answers(form: Mapping[str, str]) -> dict[str, str]:
    """The visitor's answers from a posted form, keyed by field name."""
    return {
        key[len(INPUT_PREFIX) :]: value
        for key, value in form.items()
        if key.startswith(INPUT_PREFIX)
    }
