"""Refusing admin patterns that could hang the server on a visitor's answer.

Python's regular expressions backtrack: ``(\\w+\\s?)+`` takes longer than a request
may live on thirty characters that almost match, and the check runs on every submit.
The dangerous shape is a repetition of something that can itself match a varying number
of times; it is found on the parsed pattern rather than by reading the text, so
character classes and escapes cannot fool it. Alternatives inside a repetition
(``(a|ab)+``) can backtrack too, but far less often in practice, and refusing them would
refuse common safe patterns such as ``(?:yes|no)+``.
"""

from __future__ import annotations

import importlib
from typing import Any

# The parser behind re.compile; public in all but name since Python 3.11, and its
# predecessor sre_parse warns on import.
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
_BACKTRACKING = (_constants.MAX_REPEAT, _constants.MIN_REPEAT)


def nested_repetition(pattern: str) -> bool:
    """True when a repetition contains a part that can repeat a varying number of times.

    ``pattern`` must already compile.
    """
    return _walk(_parser.parse(pattern), inside=False)


def _walk(subpattern: Any, *, inside: bool) -> bool:
    for op, arg in subpattern:
        if op in _BACKTRACKING:
            low, high, body = arg
            if inside and high > 1 and low != high:
                return True
            if _walk(body, inside=inside or high > 1):
                return True
            continue
        for child in _subpatterns(arg):
            if _walk(child, inside=inside):
                return True
    return False


def _subpatterns(arg: Any) -> list[Any]:
    """The nested subpatterns of one node's argument (groups, branches, lookarounds)."""
    if isinstance(arg, _parser.SubPattern):
        return [arg]
    if isinstance(arg, tuple | list):
        return [found for item in arg for found in _subpatterns(item)]
    return []
