"""SSNs typed into the chat in shapes the review still got through (issue 11 named only
`123-45-6789` and `123 45 6789`; phones' keyboards and autocorrect write the others)."""

from __future__ import annotations

import pytest

from core.forms.masking import mask_numbers_in_text


@pytest.mark.parametrize(
    "typed",
    [
        "ssn 123.45.6789",
        "ssn 123\u201345\u20136789",  # en dashes
        "ssn 123\u201145\u20116789",  # non-breaking hyphens
        "ssn 123  45  6789",
    ],
)
def test_an_ssn_written_otherwise_is_masked(typed: str) -> None:
    masked, _ = mask_numbers_in_text(typed)
    assert "123" not in masked and "6789" in masked
