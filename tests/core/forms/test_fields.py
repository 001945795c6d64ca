from __future__ import annotations

import string
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.forms.cards import card_brand, luhn_ok
from core.forms.fields import (
    ALWAYS_OFF_RECORD,
    FIELD_TYPES,
    OFF_RECORD_BY_DEFAULT,
    FieldSpec,
    SubmissionInvalid,
    validate_values,
)

TODAY = date(2025, 6, 15)

CARD = FieldSpec("card", "Card number", "card_number", required=True)
EXPIRY = FieldSpec("expiry", "Expiry date", "card_expiry")
CVV = FieldSpec("cvv", "Security code", "cvv", off_the_record=True)
SSN = FieldSpec("ssn", "SSN", "ssn")
PHONE = FieldSpec("phone", "Phone", "phone")
EMAIL = FieldSpec("email", "Email", "email")
BIRTHDAY = FieldSpec("birthday", "Birthday", "date")
AMOUNT = FieldSpec("amount", "Amount", "number", min=0.5, max=1_000_000)
COLOUR = FieldSpec("colour", "Colour", "select", options=("red", "green"))
AGREE = FieldSpec("agree", "Terms", "checkbox", required=True)
NEWS = FieldSpec("news", "Newsletter", "checkbox")
PLAN = FieldSpec("plan", "Plan", "checkbox", options=("basic", "pro"))
PIN = FieldSpec("pin", "PIN", "pin")
PIN6 = FieldSpec("pin6", "Card PIN", "pin", min_length=6, max_length=6)
NICK = FieldSpec("nick", "Nickname", "text", min_length=3, max_length=5)
REF = FieldSpec("ref", "Reference", "text", pattern=r"[A-Z]{3}-[0-9]{4}")
NOTES = FieldSpec("notes", "Notes", "textarea")
ANSWER = FieldSpec("answer", "Secret answer", "secret_answer")
IBAN = FieldSpec("iban", "IBAN", "iban")
BANK = FieldSpec("bank", "Bank account", "bank_account")
ALL = (
    *(CARD, EXPIRY, CVV, SSN, PHONE, EMAIL, BIRTHDAY, AMOUNT, COLOUR, AGREE, NEWS),
    *(PLAN, PIN, PIN6, NICK, REF, NOTES, ANSWER, IBAN, BANK),
)

# (brand, prefix, lengths), written from the networks' published ranges rather than
# from the module under test.
BRAND_RANGES = [
    ("visa", "4", (13, 16, 19)),
    ("mastercard", "51", (16,)),
    ("mastercard", "55", (16,)),
    ("mastercard", "2221", (16,)),
    ("mastercard", "2720", (16,)),
    ("amex", "34", (15,)),
    ("amex", "37", (15,)),
    ("discover", "6011", (16, 17, 18, 19)),
    ("discover", "644", (16, 19)),
    ("discover", "65", (16,)),
    ("diners", "36", (14, 16, 19)),
    ("diners", "300", (14,)),
    ("jcb", "3528", (16, 19)),
    ("jcb", "3589", (16,)),
    ("unionpay", "62", (16, 19)),
    ("maestro", "6759", (12, 16, 19)),
    ("maestro", "5018", (12, 19)),
]


def check_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str(-total % 10)


@st.composite
def branded_cards(draw: st.DrawFn) -> tuple[str, str]:
    brand, prefix, lengths = draw(st.sampled_from(BRAND_RANGES))
    length = draw(st.sampled_from(lengths))
    size = length - len(prefix) - 1
    body = prefix + draw(st.text("0123456789", min_size=size, max_size=size))
    return brand, body + check_digit(body)


def grouped(draw: Callable[[st.SearchStrategy[str]], str], digits: str) -> str:
    """Sprinkle the spaces and dashes people type into a digit string."""
    seps = st.sampled_from(["", "", " ", "-", " - ", "  "])
    return "".join(char + draw(seps) for char in digits)


def errors_for(fields: tuple[FieldSpec, ...], values: dict[str, object]) -> dict[str, str]:
    with pytest.raises(SubmissionInvalid) as caught:
        validate_values(fields, values, today=TODAY)
    return caught.value.errors


@pytest.mark.parametrize(
    "number",
    ["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117"],
)
def test_known_test_cards_pass_luhn(number: str) -> None:
    assert luhn_ok(number)


@given(branded_cards())
def test_generated_cards_of_every_brand_are_accepted(card: tuple[str, str]) -> None:
    brand, number = card
    assert card_brand(number) == brand
    assert luhn_ok(number)
    assert validate_values([CARD], {"card": number}, today=TODAY) == {"card": number}


@given(branded_cards(), st.data())
def test_every_single_digit_change_breaks_luhn(card: tuple[str, str], data: st.DataObject) -> None:
    _brand, number = card
    position = data.draw(st.integers(0, len(number) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    assert not luhn_ok(number[:position] + digit + number[position + 1 :])


@given(branded_cards(), st.data())
def test_grouped_card_numbers_normalise_to_digits(
    card: tuple[str, str], data: st.DataObject
) -> None:
    _brand, number = card
    typed = grouped(data.draw, number)
    assert validate_values([CARD], {"card": typed}, today=TODAY) == {"card": number}


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        ("4111111111111111", "visa"),
        ("2223003122003222", "mastercard"),
        ("371449635398431", "amex"),
        ("6445644564456445", "discover"),
        ("36227206271667", "diners"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("6759649826438453", "maestro"),
        ("9999999999999995", None),
        ("4242 4242", None),
        ("", None),
    ],
)
def test_card_brand(digits: str, brand: str | None) -> None:
    assert card_brand(digits) == brand


@pytest.mark.parametrize("digits", ["", "abc", "4242 4242 4242 4242", "٤٢٤٢"])
def test_luhn_refuses_anything_but_ascii_digits(digits: str) -> None:
    assert not luhn_ok(digits)


AMEX = "378282246310005"
LONG = "x" * 1001

VISA_15 = "Card number has 15 digits; Visa numbers have 13, 16 or 19 digits."
AMEX_14 = "Card number has 14 digits; American Express numbers have 15 digits."
DISCOVER_15 = "Card number has 15 digits; Discover numbers have 16 to 19 digits."
CARD_DIGITS = "Card number must be the 12 to 19 digits printed on the card."
EXPIRED = "Expiry date is in the past; use a card that has not expired."
EXPIRY_FORMAT = "Expiry date must be the month and year on the card, as MM/YY."
CVV3 = "Security code must be the 3 digits printed on the back of the card."
SSN_INVALID = "SSN is not a valid Social Security number; check it for typos."
PHONE_FORMAT = "Phone must start with + and a country code, like +44 20 7946 0958."
EMAIL_FORMAT = "Email must be an email address like name@example.com."
DATE_FORMAT = "Birthday must be a real date written as YYYY-MM-DD."
NOT_A_NUMBER = "Amount must be a number written with digits, like 42 or 3.5."
NOT_AN_OPTION = "Colour must be one of the listed options; pick one from the list."
PIN_DIGITS = "PIN must be 4 to 12 digits."
IBAN_FORMAT = "IBAN must be 15 to 34 characters, starting with the country code."
BANK_FORMAT = (
    "Bank account must be the 9-digit routing number followed by the 4 to 17 digit account number."
)

# (field, submitted value, exact message)
ERROR_CASES: list[tuple[FieldSpec, object, str]] = [
    (CARD, "4242 4242 4242 424", VISA_15),
    (CARD, "3782 822463 1000", AMEX_14),
    (CARD, "6011 1111 1111 111", DISCOVER_15),
    (CARD, "4242424242424241", "Card number is not valid; check the digits for typos."),
    (CARD, "4242-abcd-4242-4242", CARD_DIGITS),
    (CARD, "98765432109", "Card number has 11 digits; card numbers have 12 to 19 digits."),
    (CARD, "9" * 20, "Card number has 20 digits; card numbers have 12 to 19 digits."),
    (EXPIRY, "05/25", EXPIRED),
    (EXPIRY, "12/2024", EXPIRED),
    (EXPIRY, "07/45", "Expiry date is more than 20 years ahead; check the year."),
    (EXPIRY, "13/27", EXPIRY_FORMAT),
    (EXPIRY, "2027-01", EXPIRY_FORMAT),
    (CVV, "98", CVV3),
    (CVV, "98a", CVV3),
    (CVV, "9876", CVV3),
    (SSN, "123-45-678", "SSN must be 9 digits, written as AAA-GG-SSSS."),
    (SSN, "000-12-3456", SSN_INVALID),
    (SSN, "666-12-3456", SSN_INVALID),
    (SSN, "912-12-3456", SSN_INVALID),
    (SSN, "123-00-4567", SSN_INVALID),
    (SSN, "123-45-0000", SSN_INVALID),
    (PHONE, "555 0123 987", PHONE_FORMAT),
    (PHONE, "+1 555", PHONE_FORMAT),
    (PHONE, "+0 555 0123 987", PHONE_FORMAT),
    (PHONE, "+1 555 0123 98765 4321", PHONE_FORMAT),
    (EMAIL, "jo.example.org", EMAIL_FORMAT),
    (EMAIL, "jo@localhost", EMAIL_FORMAT),
    (EMAIL, "jo smith@example.org", EMAIL_FORMAT),
    (EMAIL, "jo@@example.org", EMAIL_FORMAT),
    (EMAIL, "jo@example..org", EMAIL_FORMAT),
    (EMAIL, "jo@" + "q" * 250 + ".org", EMAIL_FORMAT),
    (BIRTHDAY, "2023-02-29", DATE_FORMAT),
    (BIRTHDAY, "15/06/1990", DATE_FORMAT),
    (BIRTHDAY, "1990-6-15", DATE_FORMAT),
    (AMOUNT, "12abc", NOT_A_NUMBER),
    (AMOUNT, "1e5", NOT_A_NUMBER),
    (AMOUNT, "NaN", NOT_A_NUMBER),
    (AMOUNT, True, NOT_A_NUMBER),
    (AMOUNT, float("inf"), NOT_A_NUMBER),
    (AMOUNT, [7], NOT_A_NUMBER),
    (AMOUNT, "0.25", "Amount must be at least 0.5."),
    (AMOUNT, 2_000_000, "Amount must be at most 1000000."),
    (COLOUR, "purple", NOT_AN_OPTION),
    (COLOUR, "Red", NOT_AN_OPTION),
    (PLAN, "true", "Plan must be one of the listed options; pick one from the list."),
    (NEWS, "maybe", "Newsletter must be ticked or left unticked."),
    (NEWS, 7, "Newsletter must be ticked or left unticked."),
    (AGREE, False, "Terms is required."),
    (AGREE, "off", "Terms is required."),
    (PIN, "987", PIN_DIGITS),
    (PIN, "98a7", PIN_DIGITS),
    (PIN, "9876543210987", PIN_DIGITS),
    (PIN6, "98765", "Card PIN must be 6 digits."),
    (NICK, "zq", "Nickname must be at least 3 characters long."),
    (NICK, "zqzqzq", "Nickname must be at most 5 characters; shorten it."),
    (REF, "abc-12", "Reference is not in the expected format; check it against the hint."),
    (NOTES, "y" * 5001, "Notes must be at most 5000 characters; shorten it."),
    (ANSWER, LONG, "Secret answer must be at most 1000 characters; shorten it."),
    (ANSWER, 1234, "Secret answer must be text."),
    (IBAN, "GB82 WEST 1234 5698 7654 33", "IBAN is not valid; check it for typos."),
    (IBAN, "GB82 WEST", IBAN_FORMAT),
    (IBAN, "1282 WEST 1234 5698 7654 32", IBAN_FORMAT),
    (BANK, "021000021 987", BANK_FORMAT),
    (BANK, "021000022/98765432", "Bank account has an invalid routing number; check its 9 digits."),
    (BANK, "02100002a 98765432", BANK_FORMAT),
]


@pytest.mark.parametrize(("spec", "value", "message"), ERROR_CASES)
def test_error_messages_name_the_field_and_never_the_value(
    spec: FieldSpec, value: object, message: str
) -> None:
    assert_refused((spec,), {spec.name: value}, spec.name, message)


def test_amex_card_needs_a_four_digit_cvv() -> None:
    message = (
        "Security code must be the 4 digits printed on the front of the American Express card."
    )
    assert_refused((CARD, CVV), {"card": AMEX, "cvv": "987"}, "cvv", message)


def assert_refused(
    fields: tuple[FieldSpec, ...], values: dict[str, object], name: str, message: str
) -> None:
    with pytest.raises(SubmissionInvalid) as caught:
        validate_values(fields, values, today=TODAY)
    assert caught.value.errors == {name: message}
    for shown in (message, str(caught.value), repr(caught.value)):
        assert str(values[name]).strip() not in shown
    # A parser error quoting the value must not ride along in the traceback.
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None


def test_all_errors_are_reported_at_once() -> None:
    errors = errors_for(ALL, {"cvv": "98", "ssn": "666-12-3456", "bogus": "x"})
    assert errors == {
        "card": "Card number is required.",
        "cvv": "Security code must be the 3 digits printed on the back of the card.",
        "ssn": "SSN is not a valid Social Security number; check it for typos.",
        "agree": "Terms is required.",
        "_unknown": "1 of the answers sent name no field of this form; its fields are: "
        + ", ".join(spec.name for spec in ALL)
        + ".",
    }


def test_exception_text_carries_no_values_or_messages() -> None:
    with pytest.raises(SubmissionInvalid) as caught:
        validate_values([CARD, SSN], {"card": "4242424242424241", "ssn": "666123456"})
    assert str(caught.value) == "submission failed validation for 2 field(s)"


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_optional_values_are_absent(blank: object) -> None:
    assert validate_values([EMAIL, NEWS], {"email": blank}, today=TODAY) == {}


@pytest.mark.parametrize("blank", ["", " - ", None])
def test_blank_required_values_are_missing(blank: object) -> None:
    assert errors_for((CARD,), {"card": blank}) == {"card": "Card number is required."}


def test_label_falls_back_to_name() -> None:
    errors = errors_for((FieldSpec("zip", "", "text", required=True),), {})
    assert errors == {"zip": "zip is required."}


NORMALISED = [
    (CARD, "4242 4242-4242 4242", "4242424242424242"),
    (EXPIRY, "6/25", "06/25"),
    (EXPIRY, "12 / 2030", "12/30"),
    (EXPIRY, "06/2045", "06/45"),
    (EXPIRY, "99", None),
    (CVV, " 1 2 3 ", "123"),
    (SSN, "123 45 6789", "123-45-6789"),
    (SSN, "123456789", "123-45-6789"),
    (PHONE, "0044 20 7946-0958", "+442079460958"),
    (PHONE, "+1 (415) 555.2671", "+14155552671"),
    (EMAIL, " Jo.Smith@Example.ORG ", "Jo.Smith@example.org"),
    (BIRTHDAY, "2024-02-29", "2024-02-29"),
    (AMOUNT, "1,000", None),
    (AMOUNT, "+0012.50", "12.5"),
    (AMOUNT, 42, "42"),
    (AMOUNT, 3.75, "3.75"),
    (AMOUNT, "1000000.00", "1000000"),
    (COLOUR, "green", "green"),
    (NEWS, True, "true"),
    (NEWS, "on", "true"),
    (NEWS, "False", "false"),
    (PLAN, "pro", "pro"),
    (PIN, "12-34", "1234"),
    (PIN6, "123 456", "123456"),
    (REF, "ABC-1234", "ABC-1234"),
    (ANSWER, "  Rex  ", "Rex"),
    (IBAN, "gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"),
    (IBAN, "NO93 8601 1117 947", "NO9386011117947"),
    (BANK, "021000021 98765432", "021000021 98765432"),
    (BANK, "021000021/98765432", "021000021 98765432"),
    (BANK, "011000015-1234", "011000015 1234"),
]


@pytest.mark.parametrize(("spec", "value", "expected"), NORMALISED)
def test_normalisation(spec: FieldSpec, value: object, expected: str | None) -> None:
    if expected is None:
        errors_for((spec,), {spec.name: value})
        return
    first = validate_values([spec], {spec.name: value}, today=TODAY)
    assert first == {spec.name: expected}
    assert validate_values([spec], first, today=TODAY) == first


def test_cvv_of_four_digits_for_amex_card() -> None:
    values = {"card": "3782 822463 10005", "cvv": "1234"}
    assert validate_values([CARD, CVV], values, today=TODAY) == {
        "card": AMEX,
        "cvv": "1234",
    }


def test_expiry_this_month_and_twenty_years_ahead_are_accepted() -> None:
    for typed, stored in [("06/25", "06/25"), ("6/2045", "06/45")]:
        assert validate_values([EXPIRY], {"expiry": typed}, today=TODAY) == {"expiry": stored}


def test_expiry_uses_today_by_default() -> None:
    soon = date.today().replace(day=1)
    typed = f"{soon.month:02d}/{soon.year % 100:02d}"
    assert validate_values([EXPIRY], {"expiry": typed}) == {"expiry": typed}


MESSY = {
    "card_number": branded_cards().map(lambda card: card[1]),
    "ssn": st.from_regex(r"[0-8][0-9]{2}[ -]?[0-9]{2}[ -]?[0-9]{4}", fullmatch=True),
    "phone": st.from_regex(r"(\+|00)[1-9][0-9 ]{8,16}", fullmatch=True),
    "card_expiry": st.from_regex(
        r"(0?[1-9]|1[0-2]) ?/ ?(20)?(2[6-9]|3[0-9]|4[0-4])", fullmatch=True
    ),
    "number": st.one_of(
        st.integers(-(10**12), 10**12),
        st.floats(-1e9, 1e9, allow_nan=False),
        st.decimals(-(10**9), 10**9, places=3, allow_nan=False).map(str),
    ),
    "iban": st.sampled_from(["gb82 west 1234 5698 7654 32", "DE89-3704-0044-0532-0130-00"]),
    "checkbox": st.sampled_from([True, False, "on", "TRUE", "off", "no"]),
}
SPEC_FOR = {
    "card_number": CARD,
    "ssn": SSN,
    "phone": PHONE,
    "card_expiry": EXPIRY,
    "number": FieldSpec("n", "N", "number"),
    "iban": IBAN,
    "checkbox": NEWS,
}


@given(st.sampled_from(sorted(MESSY)).flatmap(lambda t: st.tuples(st.just(t), MESSY[t])))
def test_normalisation_is_idempotent(case: tuple[str, object]) -> None:
    kind, value = case
    spec = SPEC_FOR[kind]
    try:
        first = validate_values([spec], {spec.name: value}, today=TODAY)
    except SubmissionInvalid:
        assume(False)
    assert validate_values([spec], first, today=TODAY) == first


@given(
    st.sampled_from(ALL),
    st.text(string.ascii_letters + string.digits + " -/.@+", min_size=6, max_size=40),
)
def test_no_message_ever_contains_the_submitted_value(spec: FieldSpec, value: str) -> None:
    assume(value.strip())
    try:
        validate_values([spec], {spec.name: value}, today=TODAY)
    except SubmissionInvalid as exc:
        message = exc.errors[spec.name]
        assert exc.__context__ is None
        if value.strip() in message:
            # Only allowed when the message is fixed text that merely happens to contain
            # it ("countr" in "country"): the same message must come for another value.
            alt = "".join("q" if c.isalpha() else "3" if c.isdigit() else c for c in value)
            assume(alt != value)
            try:
                validate_values([spec], {spec.name: alt}, today=TODAY)
            except SubmissionInvalid as other:
                assert other.errors[spec.name] == message
            else:
                raise AssertionError("the message quoted the value") from None


def test_field_types_and_off_record_sets() -> None:
    assert len(FIELD_TYPES) == 16
    assert {"cvv"} == ALWAYS_OFF_RECORD
    assert {"cvv", "pin", "secret_answer"} == OFF_RECORD_BY_DEFAULT
    assert ALWAYS_OFF_RECORD <= OFF_RECORD_BY_DEFAULT <= FIELD_TYPES


def test_field_spec_to_json_keeps_only_set_keys() -> None:
    assert COLOUR.to_json() == {
        "name": "colour",
        "label": "Colour",
        "type": "select",
        "required": False,
        "off_the_record": False,
        "options": ["red", "green"],
    }
    assert AMOUNT.to_json()["min"] == 0.5


# Brand-specific lengths: the count and the brand's lengths, never the digits. Length is
# checked before Luhn, so a skipped digit is reported as such rather than as a typo.
BRAND_LENGTH_CASES = [
    ("4242 4242 424", "Card number has 11 digits; Visa numbers have 13, 16 or 19 digits."),
    ("4" + "2" * 16 + "4", "Card number has 18 digits; Visa numbers have 13, 16 or 19 digits."),
    ("5105 1051 0510 510", "Card number has 15 digits; Mastercard numbers have 16 digits."),
    ("2221 0000 0000 000", "Card number has 15 digits; Mastercard numbers have 16 digits."),
    ("3782 8224 6310 0051", "Card number has 16 digits; American Express numbers have 15 digits."),
    ("3000 0000 0000 0", "Card number has 13 digits; Diners Club numbers have 14 to 19 digits."),
    ("3530 1113 3330 000", "Card number has 15 digits; JCB numbers have 16 to 19 digits."),
    ("6200 0000 0000 000", "Card number has 15 digits; UnionPay numbers have 16 to 19 digits."),
    ("6011 0000 0000 000", "Card number has 15 digits; Discover numbers have 16 to 19 digits."),
    ("6759" + "0" * 16, "Card number has 20 digits; Maestro numbers have 12 to 19 digits."),
    ("4", "Card number has 1 digit; Visa numbers have 13, 16 or 19 digits."),
]


@pytest.mark.parametrize(("typed", "message"), BRAND_LENGTH_CASES)
def test_wrong_length_names_the_brand_and_its_lengths(typed: str, message: str) -> None:
    assert_refused((CARD,), {"card": typed}, "card", message)


CVV4 = "Security code must be the 4 digits printed on the front of the American Express card."


@pytest.mark.parametrize(
    ("card", "cvv", "error"),
    [
        (AMEX, "1234", None),
        (AMEX, "123", CVV4),
        (AMEX, "12345", CVV4),
        ("4242424242424242", "123", None),
        ("4242424242424242", "1234", CVV3),
        ("5555555555554444", "1234", CVV3),
        # No card on the form, or none typed yet: the common case of 3 digits.
        (None, "123", None),
        (None, "1234", CVV3),
        # A mistyped Amex number is still recognised by its prefix, so the visitor who
        # has the Amex card in hand is asked for its 4 digits.
        ("378282246310006", "1234", None),
    ],
)
def test_cvv_length_follows_the_card_on_the_same_form(
    card: str | None, cvv: str, error: str | None
) -> None:
    values = {"cvv": cvv} if card is None else {"card": card, "cvv": cvv}
    fields = (FieldSpec("card", "Card number", "card_number"), CVV)
    try:
        clean = validate_values(fields, values, today=TODAY)
    except SubmissionInvalid as exc:
        assert exc.errors.get("cvv") == error
        return
    assert error is None
    assert clean["cvv"] == cvv


def test_an_amex_number_typed_into_a_text_field_does_not_change_the_cvv_rule() -> None:
    note = FieldSpec("note", "Note", "text")
    errors = errors_for((note, CVV), {"note": AMEX, "cvv": "1234"})
    assert errors == {"cvv": CVV3}


@pytest.mark.parametrize("spec", ALL)
def test_text_that_cannot_be_encoded_is_refused_for_every_type(spec: FieldSpec) -> None:
    message = f"{spec.label} contains characters that are not text; type it again."
    assert errors_for((spec,), {spec.name: "12\ud800 34"})[spec.name] == message


def test_unknown_keys_are_counted_never_echoed() -> None:
    """An unknown key is client input, perhaps a value pasted into the wrong place."""
    errors = errors_for((NEWS,), {"x\udcff": "1", "k4111111111111111": "2"})
    assert list(errors) == ["_unknown"]
    assert errors["_unknown"].startswith("2 of the answers sent name no field of this form")
    assert "4111111111111111" not in errors["_unknown"] and "x" not in errors["_unknown"][:40]
    errors["_unknown"].encode("utf-8")
