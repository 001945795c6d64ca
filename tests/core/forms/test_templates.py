from __future__ import annotations

from datetime import date

import pytest

from core.forms.definitions import parse_definition
from core.forms.fields import SubmissionInvalid, validate_values
from core.forms.templates import TEMPLATES, describe_templates

TODAY = date(2025, 6, 15)

# What a visitor would type into each template, grouping and all.
ANSWERS: dict[str, dict[str, object]] = {
    "payment_card": {
        "cardholder": "Ada Lovelace",
        "card_number": "4242 4242 4242 4242",
        "expiry": "12/30",
        "cvv": "123",
    },
    "identity_verification": {
        "date_of_birth": "1990-04-23",
        "ssn_last4": "6789",
        "secret_answer": "Rex",
    },
    "bank_account": {
        "account_holder": "Ada Lovelace",
        "bank_account": "021000021 98765432",
        "account_type": "Checking",
    },
    "address_change": {
        "address_line1": "1 Main Street",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "United States",
        "effective_date": "2025-07-01",
        "phone": "+1 415 555 2671",
    },
}


def test_the_four_templates_of_the_issue_are_shipped() -> None:
    assert list(TEMPLATES) == [
        "payment_card",
        "identity_verification",
        "bank_account",
        "address_change",
    ]
    assert [t["name"] for t in describe_templates()] == list(TEMPLATES)


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_is_a_valid_definition_that_round_trips(name: str) -> None:
    definition = TEMPLATES[name]
    assert definition.name == name
    assert parse_definition(definition.to_json()) == definition


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_accepts_a_typical_answer(name: str) -> None:
    fields = TEMPLATES[name].fields
    clean = validate_values(fields, ANSWERS[name], today=TODAY)
    assert set(clean) == set(ANSWERS[name])


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_refuses_an_empty_answer_for_every_required_field(name: str) -> None:
    fields = TEMPLATES[name].fields
    with pytest.raises(SubmissionInvalid) as caught:
        validate_values(fields, {}, today=TODAY)
    assert set(caught.value.errors) == {spec.name for spec in fields if spec.required}


def test_field_types_and_record_keeping_of_the_templates() -> None:
    kinds = {name: {s.name: s.type for s in d.fields} for name, d in TEMPLATES.items()}
    assert kinds["payment_card"] == {
        "cardholder": "text",
        "card_number": "card_number",
        "expiry": "card_expiry",
        "cvv": "cvv",
    }
    assert kinds["identity_verification"] == {
        "date_of_birth": "date",
        "ssn_last4": "text",
        "secret_answer": "secret_answer",
    }
    assert kinds["bank_account"]["bank_account"] == "bank_account"
    assert TEMPLATES["payment_card"].off_record_names == {"cvv"}
    # Verification answers are only checked while the visitor waits.
    assert TEMPLATES["identity_verification"].off_record_names == {
        "date_of_birth",
        "ssn_last4",
        "secret_answer",
    }
    assert TEMPLATES["bank_account"].off_record_names == set()
    assert TEMPLATES["address_change"].off_record_names == set()


@pytest.mark.parametrize("typed", ["678", "67890", "67a9", "6 789"])
def test_ssn_last4_takes_exactly_four_digits(typed: str) -> None:
    values = {**ANSWERS["identity_verification"], "ssn_last4": typed}
    with pytest.raises(SubmissionInvalid) as caught:
        validate_values(TEMPLATES["identity_verification"].fields, values, today=TODAY)
    assert set(caught.value.errors) == {"ssn_last4"}
    assert caught.value.errors["ssn_last4"].startswith(
        "Last 4 digits of your Social Security number "
    )
