"""Adapters to third parties, small and free of domain rules (ARCHITECTURE.md).

core states what it needs as a protocol (core.payments.PaymentProcessor); these implement
it, and the composition root (the api's Services, the cli) hands them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.https_forward import HttpsForward
from connectors.payments import TIMEOUT_S, CardInput, Outcome
from connectors.stripe import StripeProcessor

__all__ = ["TIMEOUT_S", "CardInput", "HttpsForward", "Outcome", "StripeProcessor", "processor_for"]


def processor_for(config: Mapping[str, Any]) -> StripeProcessor | HttpsForward:
    """The connector for a site's processor settings (validated by core before storing)."""
    provider = config.get("provider")
    if provider == "stripe":
        return StripeProcessor(config["secret_key"], api_base=config.get("api_base"))
    if provider == "https":
        return HttpsForward(
            config["url"],
            headers=config.get("headers") or {},
            body_template=config["body_template"],
            keep=tuple(config.get("keep") or ("/id", "/status")),
        )
    raise ValueError("unknown payment provider")
