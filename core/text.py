"""What text a store can hold, and what an id looks like: one definition of each.

PostgreSQL refuses NUL in text and UTF-8 can't encode a lone surrogate (which a JSON body's
`\\ud800` or a form's percent-escapes can produce), so every value bound for a store or a
log passes `storable` first. Our ids are UUIDs; `ID` also admits the slugs clients may
use (forms, agents' external ids), and anything else names nothing.
"""

from __future__ import annotations

import re

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id(value: object) -> bool:
    return isinstance(value, str) and ID.fullmatch(value) is not None


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and UUID.fullmatch(value) is not None


def encodable(text: str) -> bool:
    """Valid Unicode: no unpaired surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str) -> bool:
    """Text every store can hold: no NUL (PostgreSQL refuses it), no unpaired surrogate."""
    return "\x00" not in text and encodable(text)


def one_line(text: str) -> bool:
    """Storable and free of control characters (C0 and DEL): a path, a name, an id."""
    return storable(text) and not any(ord(c) < 32 or ord(c) == 127 for c in text)
