"""Server-side validation and normalisation of secure form answers.

The values are card numbers, CVVs, SSNs and the like, so messages are built from labels
and limits only, and ``SubmissionInvalid`` is raised outside any ``except`` block so
that no parser error (which would quote its input) ends up in its ``__context__``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from core.text import encodable

from .cards import brand_of, card_brand, describe_spans, luhn_ok, spans
from .patterns import fullmatches
from .speech import N_, _, language, ngettext, number
from .translations import FieldTexts

ALWAYS_OFF_RECORD: frozenset[str] = frozenset({"cvv"})
OFF_RECORD_BY_DEFAULT: frozenset[str] = frozenset({"cvv", "pin", "secret_answer"})
# Types whose answers must never be seen outside the vault and the reveal. The log filter
# (configs.logging.redact) recognises those of LOG_SHAPED by their shape, as the
# second wall; a CVV, a PIN, an expiry or a secret answer looks like any short number,
# date or word in a log line, so for them the first wall (never logging values) is all.
SENSITIVE_TYPES: frozenset[str] = frozenset(
    {"card_number", "card_expiry", "cvv", "ssn", "pin", "secret_answer"}
    | {"iban", "bank_account", "phone", "email"}
)
LOG_SHAPED: frozenset[str] = frozenset(
    {"card_number", "ssn", "iban", "bank_account", "phone", "email"}
)
UNKNOWN_FIELDS = "_unknown"  # the error key for names a form does not have

# People type these with grouping spaces or dashes ("4242 4242 ...", "123-45-6789");
# the grouping carries no meaning, so it is dropped before checking.
_GROUPED = frozenset({"card_number", "cvv", "ssn", "pin", "iban", "bank_account", "phone"})
_SEPARATORS = re.compile(r"[\s\-]+")
# ASCII only: \d and str.isdigit() also accept other scripts' digits, which no card
# network or bank would.
_DIGITS = re.compile(r"[0-9]+")
_EXPIRY = re.compile(r"(0?[1-9]|1[0-2])\s*/\s*([0-9]{2}|[0-9]{4})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")
_NOT_A_NUMBER = N_("%(label)s must be a number written with digits, like 42 or 3.5.")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
_TEXT_MAX = {"text": 1000, "textarea": 5000, "secret_answer": 1000}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    type: str
    required: bool = False
    off_the_record: bool = False
    help: str | None = None
    options: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    texts: FieldTexts | None = None  # the label, help and options in other languages

    def to_json(self) -> dict[str, object]:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        if self.options is not None:
            data["options"] = list(self.options)
        data.update(self.texts.to_json() if self.texts else {"texts": None})
        return {key: value for key, value in data.items() if value is not None and key != "texts"}

    def shown_label(self, language: str) -> str:
        """The label in `language` where the form has it, else the form's own."""
        return (self.texts and self.texts.label(language)) or self.label or self.name


class SubmissionInvalid(Exception):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        # Only a count: this text lands in logs and tracebacks.
        super().__init__(f"submission failed validation for {len(errors)} field(s)")


class _Invalid(Exception):
    """What is wrong: a catalogue text with `%(label)s`, said in the reader's language."""

    def __init__(self, message: str, plural: str | None = None, n: int = 0, **values: object):
        super().__init__(message)
        self.message, self.plural, self.n, self.values = message, plural, n, values

    def said(self, label: str) -> str:
        if self.plural is None:
            return _(self.message, label=label, **self.values)
        return ngettext(self.message, self.plural, self.n, label=label, **self.values)


def _invalid_n(singular: str, plural: str, n: int, **values: object) -> _Invalid:
    """A message that depends on a count (`%(num)s`), with the language's plural forms."""
    return _Invalid(singular, plural, n, **values)


class _Context(NamedTuple):
    today: date
    amex_card: bool


def validate_values(
    fields: Sequence[FieldSpec],
    values: Mapping[str, object],
    *,
    today: date | None = None,
) -> dict[str, str]:
    """Return normalised string values for every field that has a value.

    Raise SubmissionInvalid with every field's error at once, so the visitor can fix
    all of them in one round trip. A missing key, ``None`` and a blank string all
    mean "no answer".
    """
    ctx = _Context(today or date.today(), _has_amex_card(fields, values))
    declared = {spec.name for spec in fields}
    errors = {}
    unknown = sum(1 for key in values if key not in declared)
    if unknown:
        # Never repeat an unknown name: it is client input, perhaps a value pasted into
        # the wrong place. Say what the form does take instead.
        errors[UNKNOWN_FIELDS] = ngettext(
            "%(num)s of the answers sent name no field of this form; its fields are: %(names)s.",
            "%(num)s of the answers sent name no field of this form; its fields are: %(names)s.",
            unknown,
            names=", ".join(spec.name for spec in fields),
        )
    result: dict[str, str] = {}
    for spec in fields:
        try:
            value = _check_field(spec, values.get(spec.name), ctx)
        except _Invalid as exc:
            errors[spec.name] = exc.said(spec.shown_label(language()))
            continue
        if value is not None:
            result[spec.name] = value
    if errors:
        raise SubmissionInvalid(errors)
    return result


def _has_amex_card(fields: Sequence[FieldSpec], values: Mapping[str, object]) -> bool:
    cards = (values.get(spec.name) for spec in fields if spec.type == "card_number")
    return any(
        isinstance(raw, str) and card_brand(_SEPARATORS.sub("", raw)) == "amex" for raw in cards
    )


def _check_field(spec: FieldSpec, raw: object, ctx: _Context) -> str | None:
    text = None if raw is None else _as_text(spec, raw).strip()
    if text is not None and not encodable(text):
        # Lone surrogates survive JSON decoding but not UTF-8 encoding, which the vault
        # and the reveal answer both need: refuse them here rather than fail later.
        raise _Invalid("%(label)s contains characters that are not text; type it again.")
    if text is not None and spec.type in _GROUPED:
        text = _SEPARATORS.sub("", text)
    if not text:
        if spec.required:
            raise _Invalid("%(label)s is required.")
        return None
    return _CHECKERS[spec.type](spec, text, ctx)


def _as_text(spec: FieldSpec, raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if spec.type == "checkbox":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        raise _Invalid("%(label)s must be ticked or left unticked.")
    if spec.type != "number":
        raise _Invalid("%(label)s must be text.")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _Invalid(_NOT_A_NUMBER)
    if (isinstance(raw, float) and not math.isfinite(raw)) or abs(raw) >= 1e30:
        raise _Invalid(_NOT_A_NUMBER)
    return format(Decimal(repr(raw)), "f")


def _check_card_number(spec: FieldSpec, text: str, ctx: _Context) -> str:
    if not _DIGITS.fullmatch(text):
        raise _Invalid("%(label)s must be the 12 to 19 digits printed on the card.")
    # The count (never the digits) tells a visitor who skipped or doubled a digit what
    # to look for; the brand is known from the first few digits alone.
    brand = brand_of(text)
    if brand is not None and not any(
        int(low) <= len(text) <= int(high) for low, high in spans(brand[3])
    ):
        raise _invalid_n(
            "%(label)s has %(num)s digit; %(brand)s numbers have %(spans)s digits.",
            "%(label)s has %(num)s digits; %(brand)s numbers have %(spans)s digits.",
            len(text),
            brand=brand[1],
            spans=describe_spans(brand[3]),
        )
    if not 12 <= len(text) <= 19:
        raise _invalid_n(
            "%(label)s has %(num)s digit; card numbers have 12 to 19 digits.",
            "%(label)s has %(num)s digits; card numbers have 12 to 19 digits.",
            len(text),
        )
    if not luhn_ok(text):
        raise _Invalid("%(label)s is not valid; check the digits for typos.")
    return text


def _check_card_expiry(spec: FieldSpec, text: str, ctx: _Context) -> str:
    found = _EXPIRY.fullmatch(text)
    if found is None:
        raise _Invalid("%(label)s must be the month and year on the card, as MM/YY.")
    month, year, this_year = int(found[1]), int(found[2]), ctx.today.year
    if len(found[2]) == 2:
        # Read YY within the hundred years that end 20 years from now, so a past
        # year is reported as expired rather than as a century ahead.
        year += this_year // 100 * 100
        year += 100 if year <= this_year - 80 else -100 if year > this_year + 20 else 0
    if (year, month) < (this_year, ctx.today.month):
        raise _Invalid("%(label)s is in the past; use a card that has not expired.")
    if (year, month) > (this_year + 20, ctx.today.month):
        raise _Invalid("%(label)s is more than 20 years ahead; check the year.")
    return f"{month:02d}/{year % 100:02d}"


def _check_cvv(spec: FieldSpec, text: str, ctx: _Context) -> str:
    size = 4 if ctx.amex_card else 3
    if not (_DIGITS.fullmatch(text) and len(text) == size):
        if ctx.amex_card:
            raise _Invalid(
                "%(label)s must be the 4 digits printed on the front of the American Express card."
            )
        raise _Invalid("%(label)s must be the 3 digits printed on the back of the card.")
    return text


def _check_ssn(spec: FieldSpec, text: str, ctx: _Context) -> str:
    if not (_DIGITS.fullmatch(text) and len(text) == 9):
        raise _Invalid("%(label)s must be 9 digits, written as AAA-GG-SSSS.")
    area, group, serial = text[:3], text[3:5], text[5:]
    # Never issued by the SSA, so they are typos or made up.
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        raise _Invalid("%(label)s is not a valid Social Security number; check it for typos.")
    return f"{area}-{group}-{serial}"


def _check_pin(spec: FieldSpec, text: str, ctx: _Context) -> str:
    low = 4 if spec.min_length is None else spec.min_length
    high = 12 if spec.max_length is None else spec.max_length
    if not (_DIGITS.fullmatch(text) and low <= len(text) <= high):
        if low == high:
            raise _invalid_n(
                "%(label)s must be %(num)s digit.", "%(label)s must be %(num)s digits.", low
            )
        raise _Invalid(
            "%(label)s must be %(low)s to %(high)s digits.", low=number(low), high=number(high)
        )
    return text


def _check_phone(spec: FieldSpec, text: str, ctx: _Context) -> str:
    number = re.sub(r"[().]", "", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", number):
        raise _Invalid("%(label)s must start with + and a country code, like +44 20 7946 0958.")
    return number


def _check_email(spec: FieldSpec, text: str, ctx: _Context) -> str:
    if len(text) > 254 or not text.isprintable() or not _EMAIL.fullmatch(text):
        raise _Invalid("%(label)s must be an email address like name@example.com.")
    local, _at, domain = text.partition("@")
    return f"{local}@{domain.lower()}"


def _check_date(spec: FieldSpec, text: str, ctx: _Context) -> str:
    try:
        parsed = date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _Invalid("%(label)s must be a real date written as YYYY-MM-DD.")
    return parsed.isoformat()


def _check_number(spec: FieldSpec, text: str, ctx: _Context) -> str:
    if not _NUMBER.fullmatch(text):
        raise _Invalid(_NOT_A_NUMBER)
    number = Decimal(text)
    low, high = (None if b is None else Decimal(str(b)) for b in (spec.min, spec.max))
    if low is not None and number < low:
        raise _Invalid("%(label)s must be at least %(min)s.", min=_plain(low))
    if high is not None and number > high:
        raise _Invalid("%(label)s must be at most %(max)s.", max=_plain(high))
    return _plain(number)


def _plain(number: Decimal) -> str:
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _check_select(spec: FieldSpec, text: str, ctx: _Context) -> str:
    if text not in (spec.options or ()):
        raise _Invalid("%(label)s must be one of the listed options; pick one from the list.")
    return text


def _check_checkbox(spec: FieldSpec, text: str, ctx: _Context) -> str:
    if spec.options:
        return _check_select(spec, text, ctx)
    if text.lower() in {"true", "on", "yes", "1"}:
        return "true"
    if text.lower() not in {"false", "off", "no", "0"}:
        raise _Invalid("%(label)s must be ticked or left unticked.")
    # An explicit "false" is what an unticked required box looks like to a script.
    if spec.required:
        raise _Invalid("%(label)s is required.")
    return "false"


def _check_text(spec: FieldSpec, text: str, ctx: _Context) -> str:
    low = spec.min_length or 0
    high = _TEXT_MAX[spec.type] if spec.max_length is None else spec.max_length
    if len(text) < low:
        raise _invalid_n(
            "%(label)s must be at least %(num)s character long.",
            "%(label)s must be at least %(num)s characters long.",
            low,
        )
    if len(text) > high:
        raise _invalid_n(
            "%(label)s must be at most %(num)s character; shorten it.",
            "%(label)s must be at most %(num)s characters; shorten it.",
            high,
        )
    if spec.pattern is not None and not fullmatches(spec.pattern, text):
        raise _Invalid("%(label)s is not in the expected format; check it against the hint.")
    return text


def _check_iban(spec: FieldSpec, text: str, ctx: _Context) -> str:
    iban = text.upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        raise _Invalid("%(label)s must be 15 to 34 characters, starting with the country code.")
    rearranged = iban[4:] + iban[:4]
    if int("".join(str(int(char, 36)) for char in rearranged)) % 97 != 1:
        raise _Invalid("%(label)s is not valid; check it for typos.")
    return iban


def _check_bank_account(spec: FieldSpec, text: str, ctx: _Context) -> str:
    # Routing numbers are always 9 digits, so the split point is known even when the
    # separator was a space or dash (already stripped) or missing altogether.
    digits = text.replace("/", "")
    if not (_DIGITS.fullmatch(digits) and 13 <= len(digits) <= 26):
        raise _Invalid(
            "%(label)s must be the 9-digit routing number followed by the 4 to 17 digit "
            "account number."
        )
    routing, account = digits[:9], digits[9:]
    weighted = sum(w * int(d) for w, d in zip((3, 7, 1) * 3, routing, strict=True))
    if weighted % 10:
        raise _Invalid("%(label)s has an invalid routing number; check its 9 digits.")
    return f"{routing} {account}"


_CHECKERS: dict[str, Callable[[FieldSpec, str, _Context], str]] = {
    "text": _check_text,
    "textarea": _check_text,
    "number": _check_number,
    "email": _check_email,
    "phone": _check_phone,
    "date": _check_date,
    "select": _check_select,
    "checkbox": _check_checkbox,
    "card_number": _check_card_number,
    "card_expiry": _check_card_expiry,
    "cvv": _check_cvv,
    "ssn": _check_ssn,
    "pin": _check_pin,
    "secret_answer": _check_text,
    "iban": _check_iban,
    "bank_account": _check_bank_account,
}
# Derived from the checkers so that a type cannot be declared without being checked.
FIELD_TYPES: frozenset[str] = frozenset(_CHECKERS)
