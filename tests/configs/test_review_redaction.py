"""What the log filter still let through in the review of issue 11."""

from __future__ import annotations

import pytest

from configs.logging import redact


def test_a_visitor_chat_token_is_redacted_like_a_session_token() -> None:
    # sfv_ tokens are bearer credentials of a visitor's chat (core.chat.TOKEN_PREFIX).
    token = "sfv_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
    assert token not in redact(f"chat token {token} refused")


@pytest.mark.parametrize(
    "line",
    [
        "value=4111111111111111exp",
        "card4111111111111111",
        "ssn 123.45.6789",
        "ssn 123\u201345\u20136789",
        "iban GB82WEST12345698765432x",
    ],
)
@pytest.mark.xfail(
    strict=True,
    reason="open review finding: loosening the word boundaries would also redact stream ids "
    "such as 1700000000000-0; the chat masks these shapes before anything is stored",
)
def test_values_against_letters_or_with_other_separators_are_redacted(line: str) -> None:
    # Not fixed: dropping the word boundaries would redact stream ids (1700000000000-0)
    # and other ids the logs need.
    digits = "".join(c for c in line if c.isdigit())
    assert digits[:9] not in "".join(c for c in redact(line) if c.isdigit())
