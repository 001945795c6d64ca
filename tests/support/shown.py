"""Whether a short value (the last four of a card, a CVV) is shown in a text.

A plain `"4242" not in text` fails at random: pages and API answers carry random UUIDs
and hex tokens, in which any 3 or 4 digits turn up now and then. A value counts as shown
when it stands on its own — not run together with other letters or digits — outside a
UUID: a UUID's groups stand between hyphens, and one in about four thousand has "4242"
as its third (a page listing fifty conversations failed one run in twenty).
"""

from __future__ import annotations

import re

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def shows(text: str, *values: str) -> bool:
    text = _UUID.sub(" ", text)
    return any(re.search(rf"(?<![0-9A-Za-z]){re.escape(v)}(?![0-9A-Za-z])", text) for v in values)
