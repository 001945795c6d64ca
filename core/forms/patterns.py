"""Admin patterns, matched by a linear-time engine so no answer can stall the server.

Python's regular expressions backtrack: ``[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*x`` on
80 letters held the GIL for over a second, and every site's requests waited behind it.
Spotting the dangerous shapes by hand missed that one (no repetition is nested), so the
patterns are run by RE2, whose matching time grows linearly with the answer whatever
the pattern. What RE2 cannot run in linear time (backreferences, lookarounds,
possessive repeats) it refuses to compile, and the admin is told so when saving.

Semantics are those of ``re.fullmatch`` as before: the whole answer must match. One
difference is deliberate: ``\\d``, ``\\w`` and ``\\s`` are ASCII-only in RE2, as the
form's own checks are; a pattern that wants other scripts names them, as ``\\p{L}``.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

_OPTIONS: Any = re2.Options()
# Errors come back to the admin as a message; RE2's own stderr logging would only
# duplicate them in the server's output.
_OPTIONS.log_errors = False


class PatternRefused(ValueError):
    """RE2 cannot compile the pattern; the message says why, in RE2's words, without the
    part of the pattern RE2 quotes (input is never echoed back)."""


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> Any:
    """The RE2 program for ``pattern``; raise PatternRefused when there is none."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b""
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise PatternRefused(text.split(":", 1)[0]) from None


def fullmatches(pattern: str, text: str) -> bool:
    """True when the whole of ``text`` matches ``pattern`` (as ``re.fullmatch``).

    A pattern RE2 refuses can only come from a form saved before RE2 (a lookahead, say):
    it matches nothing, so the form refuses that answer until an admin fixes the pattern,
    rather than accepting answers unchecked or failing the visitor with a server error.
    """
    try:
        program = compiled(pattern)
    except PatternRefused:
        return False
    return program.fullmatch(text) is not None
