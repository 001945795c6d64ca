"""Property tests for the validators other than card numbers (see test_fields.py for those).

For each type: values generated to be valid pass, whatever grouping a person types;
normalising twice changes nothing; and where the type has a check digit, every single
character change is caught. The generators compute check digits themselves, from the
published algorithms, rather than asking the module under test.
"""

from __future__ import annotations

import string
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.forms.fields import FieldSpec, SubmissionInvalid, validate_values

TODAY = date(2025, 6, 15)

SSN = FieldSpec("ssn", "SSN", "ssn")
PHONE = FieldSpec("phone", "Phone", "phone")
EMAIL = FieldSpec("email", "Email", "email")
DAY = FieldSpec("day", "Day", "date")
PIN = FieldSpec("pin", "PIN", "pin")
IBAN = FieldSpec("iban", "IBAN", "iban")
BANK = FieldSpec("bank", "Bank account", "bank_account")
EXPIRY = FieldSpec("expiry", "Expiry date", "card_expiry")
CVV = FieldSpec("cvv", "Security code", "cvv")
CARD = FieldSpec("card", "Card number", "card_number")

separators = st.sampled_from(["", "", " ", "-", "  ", " - "])


def clean(spec: FieldSpec, value: object) -> str:
    return validate_values([spec], {spec.name: value}, today=TODAY)[spec.name]


def refused(spec: FieldSpec, value: object) -> bool:
    try:
        validate_values([spec], {spec.name: value}, today=TODAY)
    except SubmissionInvalid as exc:
        assert set(exc.errors) == {spec.name}
        return True
    return False


@st.composite
def grouped(draw: st.DrawFn, text: str) -> str:
    return "".join(char + draw(separators) for char in text).strip(" -") or text


def assert_idempotent(spec: FieldSpec, typed: object) -> str:
    first = clean(spec, typed)
    assert clean(spec, first) == first
    return first


# -- SSN ------------------------------------------------------------------------------
valid_areas = st.integers(1, 899).filter(lambda n: n != 666).map(lambda n: f"{n:03d}")
valid_ssns = st.tuples(
    valid_areas, st.integers(1, 99).map("{:02d}".format), st.integers(1, 9999).map("{:04d}".format)
)


@given(valid_ssns, st.data())
def test_issued_ssns_pass_in_any_grouping(parts: tuple[str, str, str], data: st.DataObject) -> None:
    area, group, serial = parts
    typed = data.draw(grouped(area + group + serial))
    assert assert_idempotent(SSN, typed) == f"{area}-{group}-{serial}"


@given(valid_ssns, st.sampled_from(["area", "group", "serial"]), st.data())
def test_never_issued_ssns_are_refused(
    parts: tuple[str, str, str], which: str, data: st.DataObject
) -> None:
    area, group, serial = parts
    if which == "area":
        area = data.draw(st.sampled_from(["000", "666", *(str(n) for n in range(900, 1000))]))
    elif which == "group":
        group = "00"
    else:
        serial = "0000"
    assert refused(SSN, f"{area}-{group}-{serial}")


# -- phone ----------------------------------------------------------------------------
e164 = st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True)


@given(e164, st.sampled_from(["+", "00"]), st.data())
def test_international_numbers_normalise_to_e164(
    number: str, lead: str, data: st.DataObject
) -> None:
    typed = lead + data.draw(grouped(number[1:]))
    assert assert_idempotent(PHONE, typed) == number


@given(st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True))
def test_numbers_without_a_country_code_are_refused(number: str) -> None:
    assert refused(PHONE, number)


# -- email ----------------------------------------------------------------------------
atoms = st.text(string.ascii_letters + string.digits + "_+", min_size=1, max_size=20)
labels = st.text(string.ascii_letters + string.digits, min_size=1, max_size=15)


@given(atoms, st.lists(labels, min_size=2, max_size=4))
def test_addresses_pass_with_the_domain_lower_cased(local: str, domain: list[str]) -> None:
    typed = f"{local}@{'.'.join(domain)}"
    assert assert_idempotent(EMAIL, f"  {typed} ") == f"{local}@{'.'.join(domain).lower()}"


@given(atoms, labels)
def test_addresses_without_a_dotted_domain_are_refused(local: str, host: str) -> None:
    assert refused(EMAIL, f"{local}@{host}")


# -- date -----------------------------------------------------------------------------
@given(st.dates(date(1, 1, 1), date(9999, 12, 31)))
def test_every_real_iso_date_passes_unchanged(day: date) -> None:
    assert assert_idempotent(DAY, day.isoformat()) == day.isoformat()


@given(st.dates(date(1000, 1, 1), date(9999, 12, 31)))
def test_dates_in_other_orders_are_refused(day: date) -> None:
    assert refused(DAY, day.strftime("%d/%m/%Y"))
    assert refused(DAY, day.strftime("%d-%m-%Y"))


# -- PIN ------------------------------------------------------------------------------
@given(st.text("0123456789", min_size=4, max_size=12), st.data())
def test_pins_of_allowed_lengths_pass(pin: str, data: st.DataObject) -> None:
    assert assert_idempotent(PIN, data.draw(grouped(pin))) == pin


@given(st.text("0123456789", min_size=1, max_size=30).filter(lambda p: not 4 <= len(p) <= 12))
def test_pins_of_other_lengths_are_refused(pin: str) -> None:
    assert refused(PIN, pin)


@given(st.integers(1, 20), st.integers(0, 10), st.text("0123456789", min_size=1, max_size=40))
def test_pin_length_bounds_come_from_the_definition(low: int, extra: int, pin: str) -> None:
    spec = FieldSpec("pin", "PIN", "pin", min_length=low, max_length=low + extra)
    assert refused(spec, pin) is not (low <= len(pin) <= low + extra)


# -- IBAN (ISO 13616, MOD 97-10) --------------------------------------------------------
def iban_number(text: str) -> int:
    return int("".join(str(int(char, 36)) for char in text))


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.text(string.ascii_uppercase, min_size=2, max_size=2))
    bban = draw(st.text(string.ascii_uppercase + string.digits, min_size=11, max_size=30))
    check = 98 - iban_number(bban + country + "00") % 97
    return f"{country}{check:02d}{bban}"


@given(ibans(), st.data())
def test_ibans_pass_in_any_case_and_grouping(iban: str, data: st.DataObject) -> None:
    typed = data.draw(grouped(iban))
    typed = typed.lower() if data.draw(st.booleans()) else typed
    assert assert_idempotent(IBAN, typed) == iban


@given(ibans(), st.data())
def test_every_single_character_change_of_an_iban_is_caught(iban: str, data: st.DataObject) -> None:
    # MOD 97-10 catches every substitution within a class (digit for digit, letter for
    # letter); a letter for a digit changes the length of the number it checks, and is
    # left to the country's BBAN format, which is not checked here.
    position = data.draw(st.integers(0, len(iban) - 1))
    same_class = string.digits if iban[position].isdigit() else string.ascii_uppercase
    other = data.draw(st.sampled_from([c for c in same_class if c != iban[position]]))
    assert refused(IBAN, iban[:position] + other + iban[position + 1 :])


# -- US bank account (ABA routing number, weights 3 7 1) --------------------------------
@st.composite
def routing_numbers(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=8, max_size=8))
    total = sum(w * int(d) for w, d in zip((3, 7, 1, 3, 7, 1, 3, 7), body, strict=True))
    return body + str(-total % 10)


accounts = st.text("0123456789", min_size=4, max_size=17)


@given(routing_numbers(), accounts, st.sampled_from([" ", "/", "-", "", "  "]))
def test_routing_and_account_pass_with_any_separator(
    routing: str, account: str, separator: str
) -> None:
    assert assert_idempotent(BANK, routing + separator + account) == f"{routing} {account}"


@given(routing_numbers(), accounts, st.data())
def test_every_single_digit_change_of_a_routing_number_is_caught(
    routing: str, account: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, 8))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != routing[position]]))
    assert refused(BANK, f"{routing[:position]}{digit}{routing[position + 1 :]} {account}")


# -- card expiry ----------------------------------------------------------------------
@given(st.integers(0, 240), st.booleans(), st.booleans())
def test_expiry_from_this_month_to_twenty_years_ahead_passes(
    months_ahead: int, four_digit_year: bool, pad: bool
) -> None:
    index = TODAY.year * 12 + TODAY.month - 1 + months_ahead
    year, month = divmod(index, 12)
    month += 1
    typed_year = str(year) if four_digit_year else f"{year % 100:02d}"
    typed = f"{month:02d}/{typed_year}" if pad else f"{month}/{typed_year}"
    assert assert_idempotent(EXPIRY, typed) == f"{month:02d}/{year % 100:02d}"


@given(st.integers(1, 600))
def test_expiry_in_the_past_is_refused(months_ago: int) -> None:
    index = TODAY.year * 12 + TODAY.month - 1 - months_ago
    year, month = divmod(index, 12)
    assert refused(EXPIRY, f"{month + 1:02d}/{year}")


def test_expiry_window_moves_with_today() -> None:
    later = TODAY + timedelta(days=400)
    spec_values = {"expiry": "06/25"}
    assert validate_values([EXPIRY], spec_values, today=TODAY) == {"expiry": "06/25"}
    with pytest.raises(SubmissionInvalid):
        validate_values([EXPIRY], spec_values, today=later)


# -- CVV --------------------------------------------------------------------------------
@given(st.text("0123456789", min_size=1, max_size=6), st.data())
def test_cvv_length_is_three_or_four_for_amex(cvv: str, data: st.DataObject) -> None:
    card = data.draw(st.sampled_from(["378282246310005", "4242424242424242", None]))
    values = {"cvv": data.draw(grouped(cvv))}
    if card is not None:
        values["card"] = card
    wanted = 4 if card == "378282246310005" else 3
    try:
        clean_values = validate_values([CARD, CVV], values, today=TODAY)
    except SubmissionInvalid as exc:
        assert len(cvv) != wanted
        assert set(exc.errors) == {"cvv"}
        return
    assert len(cvv) == wanted
    assert clean_values["cvv"] == cvv
