"""Card numbers: the networks' prefixes and lengths, and the Luhn check digit.

Shared by the card number field's check, the masks an agent sees, and the masking of
card numbers typed into the plain chat.
"""

from __future__ import annotations

import re

from stdnum import luhn

from .speech import _

# ASCII only: str.isdigit() also accepts other scripts' digits, which no network issues.
_DIGITS = re.compile(r"[0-9]+")

# key, display name, prefixes, card lengths; spans are "low-high" or single values.
# 622126-622925 is co-branded Discover/UnionPay; it is left to UnionPay since both
# allow 16-19 digits.
BRANDS = (
    ("amex", "American Express", "34 37", "15"),
    ("visa", "Visa", "4", "13 16 19"),
    ("mastercard", "Mastercard", "51-55 2221-2720", "16"),
    ("maestro", "Maestro", "5018 5020 5038 5893 6304 6759 6761-6763", "12-19"),
    ("discover", "Discover", "6011 644-649 65", "16-19"),
    ("unionpay", "UnionPay", "62", "16-19"),
    ("diners", "Diners Club", "300-305 3095 36 38-39", "14-19"),
    ("jcb", "JCB", "3528-3589", "16-19"),
)


def spans(text: str) -> list[tuple[str, str]]:
    return [(part.split("-")[0], part.split("-")[-1]) for part in text.split()]


def luhn_ok(digits: str) -> bool:
    """True for ASCII digits that pass the Luhn check (card numbers carry one)."""
    return bool(_DIGITS.fullmatch(digits)) and luhn.is_valid(digits)


def card_brand(digits: str) -> str | None:
    brand = brand_of(digits)
    return None if brand is None else brand[0]


def card_brand_name(digits: str) -> str | None:
    """The network's name as people know it ("American Express"), for messages and masks."""
    brand = brand_of(digits)
    return None if brand is None else brand[1]


def brand_of(digits: str) -> tuple[str, str, str, str] | None:
    if not _DIGITS.fullmatch(digits):
        return None
    for brand in BRANDS:
        for low, high in spans(brand[2]):
            if len(digits) >= len(low) and low <= digits[: len(low)] <= high:
                return brand
    return None


def describe_spans(spans: str) -> str:
    """ "13, 16 or 19", "16 to 19": a brand's lengths as a sentence says them."""
    parts = [
        _("%(low)s to %(high)s", low=part.split("-")[0], high=part.split("-")[1])
        if "-" in part
        else part
        for part in spans.split()
    ]
    if len(parts) == 1:
        return parts[0]
    return _("%(some)s or %(last)s", some=", ".join(parts[:-1]), last=parts[-1])
