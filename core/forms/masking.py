"""What an agent sees before choosing to show an answer in full.

A masked answer lets the agent tell which card or account this is (brand and last four,
as receipts print them) without the whole value being on screen while the visitor or a
colleague looks on. Everything else is one fixed-width mask, so that a mask does not give
away how long a PIN, a CVV or a secret answer is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .fields import FieldSpec, card_brand_name

HIDDEN = "••••••••"

_DIGIT = re.compile(r"[0-9]")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_ACCOUNT = re.compile(r"[0-9]{9} ([0-9]{8,17})")


def mask(spec_type: str, value: str) -> str:
    """The masked form of one normalised answer of a field of type ``spec_type``."""
    if not value:
        return ""
    digits = "".join(_DIGIT.findall(value))
    # A shorter "card" would be mostly shown by its last four.
    if spec_type == "card_number" and len(digits) >= 12:
        brand = card_brand_name(digits)
        return f"{brand} •••• {digits[-4:]}" if brand else f"•••• {digits[-4:]}"
    if spec_type == "ssn" and len(digits) == 9:
        return f"•••-••-{digits[-4:]}"
    if spec_type == "iban" and _IBAN.fullmatch(value):
        # The country tells the agent which bank system; the rest stays hidden.
        return f"{value[:2]}•• •••• {value[-4:]}"
    # The routing number is public, but an account of a few digits would be all shown.
    account = _ACCOUNT.fullmatch(value) if spec_type == "bank_account" else None
    if account is not None:
        return f"•••• {account[1][-4:]}"
    return HIDDEN


def masked_values(fields: Sequence[FieldSpec], values: Mapping[str, str]) -> dict[str, str]:
    """A masked form for each answer; one without a field in ``fields`` is hidden whole."""
    kinds = {spec.name: spec.type for spec in fields}
    return {name: mask(kinds.get(name, ""), value) for name, value in values.items()}
