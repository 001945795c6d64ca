"""A generic forward: the card as JSON to any gateway's API, the way VGS's outbound routes
reach one.

The body is the site's template with each `{"$field": name}` replaced by that answer (or
by `amount`, `currency`, `description` of the charge). Of the answer only the status code
and the allow-listed JSON pointers (RFC 6901) are kept: a gateway may echo the card back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from connectors.payments import TIMEOUT_S, CardInput, Kind, Outcome, scrubbed


class TemplateError(ValueError):
    """The template names a field the card does not have."""


class HttpsForward:
    name = "https"

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        body_template: Mapping[str, Any],
        keep: Sequence[str] = ("/id", "/status"),
    ) -> None:
        self._url = url
        self._headers = dict(headers)
        self._template = body_template
        self._keep = tuple(keep)

    def forward(
        self,
        card: CardInput,
        *,
        amount: int | None,
        currency: str | None,
        description: str | None,
        idempotency_key: str,
    ) -> Outcome:
        names: dict[str, Any] = dict(card.values)
        names.update(amount=amount, currency=currency, description=description)
        try:
            body = fill(self._template, names)
        except TemplateError as exc:
            return Outcome("failed", str(exc))
        try:
            answer = requests.post(
                self._url,
                json=body,
                headers={**self._headers, "Idempotency-Key": idempotency_key},
                timeout=TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.RequestException:
            return Outcome("unreachable", "The payment gateway could not be reached.")
        try:
            data: Any = answer.json()
        except ValueError:
            data = None
        kept = {pointer: resolve(data, pointer) for pointer in self._keep}
        response = {"status": answer.status_code, **kept}
        if answer.status_code >= 400:
            reason = f"The payment gateway answered {answer.status_code}."
            text = kept.get("/error/message") or kept.get("/message")
            if isinstance(text, str):
                reason = f"{reason[:-1]}: {scrubbed(text, card.number)}"
            kind: Kind = "declined" if answer.status_code == 402 else "failed"
            return Outcome(kind, reason, response=_scrub_all(response, card.number))
        reference = kept.get("/id")
        return Outcome(
            "forwarded",
            reference=reference if isinstance(reference, str) else None,
            response=_scrub_all(response, card.number),
        )


def fill(template: Any, names: Mapping[str, Any]) -> Any:
    if isinstance(template, dict):
        if set(template) == {"$field"}:
            name = template["$field"]
            if not isinstance(name, str) or names.get(name) is None:
                raise TemplateError(f"The body template names {name!r}, which this form lacks.")
            return names[name]
        return {key: fill(value, names) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, names) for item in template]
    return template


def resolve(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or None where there is none."""
    if pointer == "":
        return document
    node = document
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    # Only scalars are kept: an allow-listed object could carry anything inside it.
    return node if isinstance(node, str | int | float | bool) else None


def _scrub_all(response: Mapping[str, Any], number: str) -> dict[str, Any]:
    return {k: scrubbed(v, number) if isinstance(v, str) else v for k, v in response.items()}
