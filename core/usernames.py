"""Usernames: one written form per name, and no name that looks like another one.

A username is NFKC-normalised and trimmed wherever one comes in (creation, sign-in, the
operator's CLI), so a full-width `ａｄｍｉｎ` or a trailing space is the same name as `admin`.
A new name that a reader could take for an existing one on the same site (`аdmin` with a
Cyrillic а beside `admin`, or `Admin` beside `admin`) is refused: audit lines and the
console show names, and an admin must be able to trust what they read.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from confusable_homoglyphs import confusables
from sqlalchemy import select
from sqlalchemy.engine import Connection

from core.errors import Conflict
from core.schema import users


def normalise(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip()


@lru_cache(maxsize=4096)
def _prototype(char: str) -> str:
    # confusable_homoglyphs carries Unicode's confusables data (UTS #39) as homoglyph sets
    # per character but has no skeleton function, and no maintained package on the index
    # does for Python. The set of a character and its one-character homoglyphs is folded
    # to its lowest code point, so two confusable characters fold to the same one.
    glyphs = confusables.confusables_data.get(char, ())
    return min([char, *(str(g["c"]) for g in glyphs if len(g["c"]) == 1)])


# Characters that show nothing (or only a blank) where they stand: format characters
# (zero-width space and joiners, direction marks, the soft hyphen), combining marks NFKC
# could not fold into a letter (the grapheme joiner, variation selectors), and the blank
# letters (Hangul fillers, the empty Braille cell). `ad\u200bmin` reads as `admin`.
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _seen(char: str) -> bool:
    return char not in _BLANK_LETTERS and unicodedata.category(char) not in _UNSEEN_CATEGORIES


def skeleton(username: str) -> str:
    """What a name looks like: case, compatibility forms, homoglyphs and characters that
    show nothing folded away."""
    return "".join(_prototype(c) for c in normalise(username).casefold() if _seen(c))


def refuse_lookalike(conn: Connection, site_id: str, username: str) -> None:
    """Conflict (409) if the site has a user whose name looks like `username`."""
    wanted = skeleton(username)
    names = conn.execute(select(users.c.username).where(users.c.site_id == site_id)).scalars()
    for name in names:
        if name == username:
            raise Conflict("A user with this username already exists on this site.")
        if skeleton(name) == wanted:
            raise Conflict(
                "This username looks like an existing one on this site (letters from "
                "another alphabet, or another case); choose a clearly different one.",
                fields={"username": "Looks like an existing username."},
            )
