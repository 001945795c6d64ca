#!/usr/bin/env python
"""How long one visitor check takes under the admin patterns that stalled the api.

Prints, for each pattern of issue 11 and each answer length, the time the check holds
the interpreter with RE2 (what the service runs) and, for short answers only, with
Python's backtracking engine (what it ran before), so the difference is seen rather
than claimed. Asserts nothing; the issue's target was under 10 ms for 1,000 characters.

    .venv/bin/python benchmarks/patterns.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from core.forms.fields import FieldSpec, SubmissionInvalid, validate_values
from core.forms.masking import mask_numbers_in_text

PATTERNS = {
    "[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*x": "a",
    "(?:a|a)+": "a",
    r"(.|\s)+!": "a \n",
    r"(?:\w|\d)+": "1",
}
# A last character that makes the answer fail, which is what makes backtracking explore.
SPOILER = {"(?:a|a)+": "b", r"(?:\w|\d)+": "-"}


def answer(pattern: str, length: int) -> str:
    unit = PATTERNS[pattern]
    return (unit * length)[: length - 1] + SPOILER.get(pattern, "a")


def check_ms(pattern: str, text: str, repeat: int = 5) -> float:
    spec = FieldSpec("ref", "Reference", "textarea", pattern=pattern)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(SubmissionInvalid):
            validate_values([spec], {"ref": text})
        best = min(best, time.perf_counter() - start)
    return best * 1000


def python_ms(pattern: str, text: str) -> float:
    start = time.perf_counter()
    re.fullmatch(pattern, text)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    print(f"{'pattern':40} {'chars':>6} {'re2 ms':>9} {'python re ms':>13}")
    for pattern in PATTERNS:
        for length in (20, 24, 1000, 5000):
            text = answer(pattern, length)
            # Python's engine at 1,000 characters would not finish in this run.
            before = f"{python_ms(pattern, text):13.2f}" if length <= 24 else f"{'-':>13}"
            print(f"{pattern:40} {length:6} {check_ms(pattern, text):9.3f} {before}")
    print("target: under 10 ms at 1,000 characters (issue 11)")
    # The chat's masking reads every message a visitor types (up to 5,000 characters);
    # messages of many short digit groups are its worst case.
    print(f"\n{'chat message (5,000 chars)':40} {'mask ms':>9}")
    for name, text in {
        "one-digit groups '1 1 1 …'": "1 " * 2500,
        "dashed, ending in a letter": "1-" * 2499 + "x",
        "dotted pairs '12.12.…'": "12." * 1666,
        "arabic-indic digits": "\u0661 " * 2500,
        "cards '4111111111111111 …'": "4111111111111111 " * 294,
        "prose": "thanks, that works for me " * 192,
    }.items():
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            mask_numbers_in_text(text)
            best = min(best, time.perf_counter() - start)
        print(f"{name:40} {best * 1000:9.3f}")


if __name__ == "__main__":
    main()
