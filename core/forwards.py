"""What a successful forward to a payment processor left: the processor's ids, the brand,
the last four and the expiry (a receipt's worth, never the number). Read by a later
forward (to answer it again) and by a reveal (to say where the card went)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from core.runtime import Runtime
from core.schema import payment_forwards

DISPLAY = {"stripe": "Stripe", "https": "the payment gateway"}


def forwarded(rt: Runtime, site_id: str, submission_id: str) -> dict[str, Any] | None:
    """What a successful forward of this submission answered; None if there was none."""
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(payment_forwards).where(
                payment_forwards.c.submission_id == submission_id,
                payment_forwards.c.site_id == site_id,
            )
        ).first()
    return None if row is None else answer(row._asdict())


def answer(row: Mapping[str, Any]) -> dict[str, Any]:
    processor = row["processor"]
    brand, last4, reference = row["brand"], row["last4"], row["reference"]
    intent = row["payment_intent_id"]
    shown = f"{brand} •••• {last4}" if brand else f"•••• {last4}"
    sent = f"sent to {DISPLAY.get(processor, processor)}" + (f" ({reference})" if reference else "")
    return {
        "processor": processor,
        "payment_method": reference,
        "brand": brand,
        "last4": last4,
        "exp_month": row["exp_month"],
        "exp_year": row["exp_year"],
        "payment_intent": (
            {"id": intent, "status": row["payment_intent_status"]} if intent else None
        ),
        "summary": f"{shown} — {sent}",
    }
