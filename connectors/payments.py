"""What every payment connector takes and answers, and the one way to build one.

A connector never raises for a processor's answer: a decline, a processor error and an
unreachable processor are outcomes the caller must handle, each with a reason in words
from which any card number has been scrubbed (processors quote input in messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from configs.logging import redact

# At most this long for one call to a processor (connect + read), so an agent waits 15 s
# at worst before hearing "try again".
TIMEOUT_S = 15.0

Kind = Literal["forwarded", "declined", "failed", "unreachable"]


class CardInput(Protocol):
    """The card as the caller holds it for the length of one forward."""

    @property
    def number(self) -> str: ...
    @property
    def exp_month(self) -> int: ...
    @property
    def exp_year(self) -> int: ...  # four digits
    @property
    def cvc(self) -> str | None: ...
    @property
    def values(self) -> Mapping[str, str]: ...  # every answer, by the form's field names


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    reason: str = ""  # in words, scrubbed; empty when forwarded
    reference: str | None = None  # the processor's id for the card (Stripe: pm_...)
    payment_intent: Mapping[str, str] | None = None  # {"id", "status"} when charged
    # The generic forward: status code and the allow-listed JSON pointers, nothing more.
    response: Mapping[str, Any] = field(default_factory=dict)


def scrubbed(text: str, card_number: str | None = None) -> str:
    """A processor's message made safe to show, log and audit."""
    if card_number:
        text = text.replace(card_number, "[card number]")
    return redact(text)
