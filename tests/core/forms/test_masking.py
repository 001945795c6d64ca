from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from core.forms.cards import luhn_ok
from core.forms.fields import FieldSpec
from core.forms.masking import (
    HIDDEN,
    _LuhnWindows,
    mask,
    mask_numbers_in_text,
    masked_values,
)


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("card_number", "4242424242424242", "Visa •••• 4242"),
        ("card_number", "4242 4242 4242 4242", "Visa •••• 4242"),
        ("card_number", "378282246310005", "American Express •••• 0005"),
        ("card_number", "5555555555554444", "Mastercard •••• 4444"),
        ("card_number", "36227206271667", "Diners Club •••• 1667"),
        ("card_number", "9999999999999995", "•••• 9995"),
        ("card_number", "4242", HIDDEN),
        ("ssn", "123-45-6789", "•••-••-6789"),
        ("ssn", "12345", HIDDEN),
        ("iban", "GB82WEST12345698765432", "GB•• •••• 5432"),
        ("iban", "gb82", HIDDEN),
        ("bank_account", "021000021 98765432", "•••• 5432"),
        # A short account number would be all shown by its last four.
        ("bank_account", "021000021 1234", HIDDEN),
        ("cvv", "123", HIDDEN),
        ("cvv", "1234", HIDDEN),
        ("pin", "123456789012", HIDDEN),
        ("secret_answer", "Rex", HIDDEN),
        ("text", "hello", HIDDEN),
        ("card_expiry", "12/34", HIDDEN),
        ("text", "", ""),
    ],
)
def test_mask(kind: str, value: str, shown: str) -> None:
    assert mask(kind, value) == shown


@given(
    st.sampled_from(["cvv", "pin", "secret_answer", "text", "email", "date", "phone"]),
    st.text(min_size=1, max_size=50),
)
def test_other_types_get_one_fixed_mask_whatever_the_length(kind: str, value: str) -> None:
    assert mask(kind, value) == HIDDEN


@given(st.text("0123456789", min_size=12, max_size=19))
def test_a_card_mask_shows_at_most_the_last_four(digits: str) -> None:
    shown = mask("card_number", digits)
    assert shown.endswith(" •••• " + digits[-4:]) or shown == "•••• " + digits[-4:]
    assert digits[:-4] not in shown.replace(" ", "")


def test_masked_values_follow_each_fields_type() -> None:
    fields = [
        FieldSpec("card", "Card", "card_number"),
        FieldSpec("ssn", "SSN", "ssn"),
        FieldSpec("cvv", "CVV", "cvv", off_the_record=True),
    ]
    values = {"card": "4242424242424242", "ssn": "123-45-6789", "cvv": "123", "gone": "x"}
    assert masked_values(fields, values) == {
        "card": "Visa •••• 4242",
        "ssn": "•••-••-6789",
        "cvv": HIDDEN,
        # An answer whose field is unknown is hidden whole rather than left out.
        "gone": HIDDEN,
    }


# -- numbers typed into the plain chat (issue 11: each of these stayed in the clear) -------
CARD_SHAPES = [
    "4111.1111.1111.1111",
    "4111  1111  1111  1111",
    "4111\u00a01111\u00a01111\u00a01111",
    "4111\u202f1111\u202f1111\u202f1111",
    "４１１１１１１１１１１１１１１１",
    "４１１１－１１１１－１１１１－１１１１",
    "4111/1111/1111/1111",
    "4111_1111_1111_1111",
    "4111 - 1111 - 1111 - 1111",
    "4111111111111111",
    "4111 1111 1111 1111",
    "\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661",
]


@pytest.mark.parametrize("typed", CARD_SHAPES)
def test_a_card_in_the_chat_is_masked_however_it_is_separated(typed: str) -> None:
    assert mask_numbers_in_text(f"my card: {typed}, thanks") == ("my card: •••• 1111, thanks", True)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        # What the review still got through: letters right against the digits, a group a
        # line, and padded groups.
        ("card4111111111111111", "card•••• 1111"),
        ("4111111111111111exp 12/34", "•••• 1111exp 12/34"),
        ("4111 1111 1111 1111cvv123", "•••• 1111cvv123"),
        ("4111\n1111\n1111\n1111", "•••• 1111"),
        ("4111\r\n1111\r\n1111\r\n1111", "•••• 1111"),
        ("4111    1111    1111    1111", "•••• 1111"),
        ("4111\u200b\u200b\u200b\u200b1111 1111 1111", "•••• 1111"),
    ],
)
def test_a_card_against_letters_or_over_lines_is_masked(typed: str, shown: str) -> None:
    assert mask_numbers_in_text(typed) == (shown, True)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("ssn 123-45-6789.", "ssn •••-••-6789."),
        ("ssn 123 45 6789", "ssn •••-••-6789"),
        ("123\u00a045\u00a06789", "•••-••-6789"),
        # Never issued, so a reference number rather than an SSN: kept as typed.
        ("ref 666-12-3456", "ref 666-12-3456"),
        ("ref 900-12-3456", "ref 900-12-3456"),
        ("ref 123-00-4567", "ref 123-00-4567"),
        # Not an SSN's shape.
        ("call 123-456-7890", "call 123-456-7890"),
        ("a123-45-6789", "a123-45-6789"),
    ],
)
def test_ssns_in_the_chat(typed: str, shown: str) -> None:
    assert mask_numbers_in_text(typed) == (shown, False)


@pytest.mark.parametrize(
    "text",
    [
        "order 1234 5678 9012 3456 please",  # fails Luhn
        "order #4111-1111-1111-1112",
        "phone +44 20 7946 0958, or 0800 123 4567",
        "on 2024-06-15 at 10:30, ticket 123456",
        "invoice 20240615103000123456789",  # 26 digits: not a card
        "4111 1111 1111 111a",
    ],
)
def test_numbers_that_are_not_cards_stay_as_typed(text: str) -> None:
    assert mask_numbers_in_text(text) == (text, False)


def test_the_card_is_found_beside_its_expiry_and_cvv() -> None:
    said = "4111 1111 1111 1111 12/34 123"
    assert mask_numbers_in_text(said) == ("•••• 1111 12/34 123", True)


def test_two_cards_in_one_message() -> None:
    said = "4111111111111111 or 5555-5555-5555-4444?"
    assert mask_numbers_in_text(said) == ("•••• 1111 or •••• 4444?", True)


@given(st.text(alphabet="0123456789", min_size=1, max_size=40), st.data())
def test_the_windowed_luhn_check_agrees_with_stdnum(digits: str, data: st.DataObject) -> None:
    low = data.draw(st.integers(0, len(digits) - 1))
    high = data.draw(st.integers(low + 1, len(digits)))
    assert _LuhnWindows(digits).ok(low, high) == luhn.is_valid(digits[low:high])


SEPARATORS = st.text(alphabet=" -./_\u00a0\u3000:,", min_size=1, max_size=3)


@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=18),
    cuts=st.lists(st.integers(1, 17), max_size=5),
    separators=st.lists(SEPARATORS, min_size=5, max_size=5),
    before=st.sampled_from(["", "card ", "it's: ", "(", "#"]),
)
def test_a_luhn_valid_card_split_anyhow_never_survives(
    body: str, cuts: list[int], separators: list[str], before: str
) -> None:
    card = next(body + d for d in "0123456789" if luhn_ok(body + d))
    points = sorted({c for c in cuts if c < len(card)})
    parts = [card[a:b] for a, b in zip([0, *points], [*points, len(card)], strict=True)]
    typed = "".join(p + (separators[i] if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    masked, found = mask_numbers_in_text(f"{before}{typed} ok")
    assert found
    assert masked == f"{before}•••• {card[-4:]} ok"
