"""What an agent sees before choosing to show an answer in full.

A masked answer lets the agent tell which card or account this is (brand and last four,
as receipts print them) without the whole value being on screen while the visitor or a
colleague looks on. Everything else is one fixed-width mask, so that a mask does not give
away how long a PIN, a CVV or a secret answer is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from stdnum.us import ssn

from .cards import card_brand_name
from .fields import FieldSpec

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


# -- numbers typed into the plain chat ---------------------------------------------------
# People write a card as "4111.1111.1111.1111", with double or no-break spaces, "/" or
# "_", or in full-width digits from an East Asian keyboard; only the digits and their
# order carry meaning. Digit groups joined by short runs of anything but letters and
# digits (line breaks and runs of blanks too: a card typed a group a line, or padded)
# are read as one candidate, and each run of consecutive groups holding 13 to 19 digits
# that passes the Luhn check is masked. Letters right against the digits don't hide a
# card ("card4111…", "…1111exp 12/34"). A number failing Luhn (an order number, a phone
# number) stays as typed: nine in ten of them do.
_GROUPS = re.compile(r"(?<![0-9])[0-9]+(?:[^0-9A-Za-z]{1,6}[0-9]+)*(?![0-9])")
# An SSN's groups split by a short run of anything but letters and digits: dots, en
# dashes and non-breaking hyphens (phones' autocorrect), doubled spaces.
_SSN_SEP = r"[^0-9A-Za-z\n]{1,3}"
_SSN = re.compile(
    rf"(?<![0-9A-Za-z])([0-9]{{3}}){_SSN_SEP}([0-9]{{2}}){_SSN_SEP}([0-9]{{4}})(?![0-9A-Za-z])"
)
CARD_MASK = "•••• {last4}"
SSN_MASK = "•••-••-{last4}"


def mask_numbers_in_text(text: str) -> tuple[str, bool]:
    """``text`` with card numbers and US SSNs masked, and whether a card number was found.

    The rest of the text is kept exactly as written; only the masked spans change.
    """
    plain, origin = _normalised(text)
    spans: list[tuple[int, int, str]] = []
    for found in _GROUPS.finditer(plain):
        spans.extend(_cards_in(found))
    cards = bool(spans)
    for found in _SSN.finditer(plain):
        number = "".join(found.groups())
        if ssn.is_valid(number) and not _overlaps(found.span(), spans):
            spans.append((found.start(), found.end(), SSN_MASK.format(last4=number[-4:])))
    for start, end, mask_text in sorted(spans, reverse=True):
        text = text[: origin[start]] + mask_text + text[origin[end - 1] + 1 :]
    return text, cards


def _normalised(text: str) -> tuple[str, list[int]]:
    """NFKC of ``text`` with other scripts' digits made ASCII, and for each character of
    the result the index of the character of ``text`` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char)
        for part in folded:
            digit = unicodedata.decimal(part, None)
            chars.append(part if digit is None else str(digit))
            origin.append(index)
    return "".join(chars), origin


def _cards_in(found: re.Match[str]) -> list[tuple[int, int, str]]:
    groups = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", found.group())]
    digits = "".join(found.group()[a:b] for a, b in groups)
    offsets = [0]
    for a, b in groups:
        offsets.append(offsets[-1] + b - a)
    luhn = _LuhnWindows(digits)
    spans: list[tuple[int, int, str]] = []
    first = 0
    while first < len(groups):
        # The runs of groups from here holding 13 to 19 digits, longest first: a long
        # message of digits costs a few checks per group, not one per pair of groups.
        last = first
        while last + 1 < len(groups) and offsets[last + 2] - offsets[first] <= 19:
            last += 1
        for end in range(last, first - 1, -1):
            low, high = offsets[first], offsets[end + 1]
            if high - low < 13:
                break
            if luhn.ok(low, high):
                start, stop = found.start() + groups[first][0], found.start() + groups[end][1]
                spans.append((start, stop, CARD_MASK.format(last4=digits[high - 4 : high])))
                first = end
                break
        first += 1
    return spans


class _LuhnWindows:
    """The Luhn check of any slice of one digit string in constant time, from prefix
    sums: a message of 2,500 one-digit groups has some 17,000 windows to try."""

    _DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

    def __init__(self, digits: str) -> None:
        # plain[p][k], doubled[p][k]: the sums over digits[:k] at indexes of parity p.
        self._plain = ([0], [0])
        self._doubled = ([0], [0])
        for index, char in enumerate(digits):
            value = int(char)
            for parity in (0, 1):
                hit = index % 2 == parity
                self._plain[parity].append(self._plain[parity][-1] + (value if hit else 0))
                doubled = self._DOUBLED[value] if hit else 0
                self._doubled[parity].append(self._doubled[parity][-1] + doubled)

    def ok(self, low: int, high: int) -> bool:
        """Luhn of digits[low:high]: the last digit is kept, the one before it doubled…"""
        kept = (high - 1) % 2
        plain, doubled = self._plain[kept], self._doubled[1 - kept]
        total = plain[high] - plain[low] + doubled[high] - doubled[low]
        return total % 10 == 0


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int, str]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end, _ in taken)
