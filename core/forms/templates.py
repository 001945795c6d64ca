"""The forms shipped with the product, offered to every new site as a starting point.

Each is an ordinary definition: installing one makes a form of the site's own that the
admin can then edit (a new version) or archive like any other. They are parsed when this
module is imported, so a template that breaks the definition rules fails every test run
rather than the first admin who picks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .definitions import FormDefinition, parse_definition

_PAYMENT_CARD: dict[str, Any] = {
    "name": "payment_card",
    "title": "Payment card",
    "description": "Your card details go straight to the agent, never into the chat.",
    "fields": [
        {
            "name": "cardholder",
            "label": "Name on card",
            "type": "text",
            "required": True,
            "max_length": 100,
        },
        {
            "name": "card_number",
            "label": "Card number",
            "type": "card_number",
            "required": True,
            "help": "The long number on the front of the card; spaces are fine.",
        },
        {
            "name": "expiry",
            "label": "Expiry date (MM/YY)",
            "type": "card_expiry",
            "required": True,
        },
        {
            "name": "cvv",
            "label": "Security code (CVV)",
            "type": "cvv",
            "required": True,
            "help": "3 digits on the back, or 4 on the front of an American Express card.",
        },
    ],
}

# Verification answers are checked once, while the visitor waits, and are never needed
# again: all three are off the record, so nothing of them outlives the conversation.
_IDENTITY_VERIFICATION: dict[str, Any] = {
    "name": "identity_verification",
    "title": "Verify your identity",
    "description": "We ask these to make sure we are talking to the account holder.",
    "fields": [
        {
            "name": "date_of_birth",
            "label": "Date of birth",
            "type": "date",
            "required": True,
            "off_the_record": True,
            "help": "Written as YYYY-MM-DD, for example 1990-04-23.",
        },
        {
            "name": "ssn_last4",
            "label": "Last 4 digits of your Social Security number",
            "type": "text",
            "required": True,
            "off_the_record": True,
            "min_length": 4,
            "max_length": 4,
            "pattern": "[0-9]{4}",
            "help": "Only the last four digits, for example 6789.",
        },
        {
            "name": "secret_answer",
            "label": "Answer to your security question",
            "type": "secret_answer",
            "required": True,
            "max_length": 200,
        },
    ],
}

_BANK_ACCOUNT: dict[str, Any] = {
    "name": "bank_account",
    "title": "Bank account",
    "description": "For a direct debit or a refund to your US bank account.",
    "fields": [
        {
            "name": "account_holder",
            "label": "Name of the account holder",
            "type": "text",
            "required": True,
            "max_length": 100,
        },
        {
            "name": "bank_account",
            "label": "Routing and account number",
            "type": "bank_account",
            "required": True,
            "help": "The 9-digit routing number, then the account number, as on a check.",
        },
        {
            "name": "account_type",
            "label": "Account type",
            "type": "select",
            "required": True,
            "options": ["Checking", "Savings"],
        },
    ],
}

_ADDRESS_CHANGE: dict[str, Any] = {
    "name": "address_change",
    "title": "Change of address",
    "description": "Your new address, and the day from which we should use it.",
    "fields": [
        {
            "name": "address_line1",
            "label": "Street address",
            "type": "text",
            "required": True,
            "max_length": 200,
        },
        {
            "name": "address_line2",
            "label": "Apartment, suite or floor (optional)",
            "type": "text",
            "max_length": 200,
        },
        {"name": "city", "label": "Town or city", "type": "text", "required": True},
        {"name": "region", "label": "State, county or province", "type": "text"},
        {
            "name": "postal_code",
            "label": "ZIP or postal code",
            "type": "text",
            "required": True,
            "max_length": 12,
        },
        {"name": "country", "label": "Country", "type": "text", "required": True},
        {
            "name": "effective_date",
            "label": "Use the new address from",
            "type": "date",
            "help": "Written as YYYY-MM-DD; leave empty to use it straight away.",
        },
        {"name": "phone", "label": "Phone number (optional)", "type": "phone"},
    ],
}

TEMPLATES: Mapping[str, FormDefinition] = MappingProxyType(
    {
        raw["name"]: parse_definition(raw)
        for raw in (_PAYMENT_CARD, _IDENTITY_VERIFICATION, _BANK_ACCOUNT, _ADDRESS_CHANGE)
    }
)


def describe_templates() -> list[dict[str, object]]:
    """Every template as the JSON an admin would send to create it, in a fixed order."""
    return [definition.to_json() for definition in TEMPLATES.values()]
