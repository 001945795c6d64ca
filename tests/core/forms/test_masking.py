from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.forms.fields import FieldSpec
from core.forms.masking import HIDDEN, mask, masked_values


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
