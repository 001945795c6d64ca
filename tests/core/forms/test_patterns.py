"""Admin patterns run on RE2: the shapes that stalled the api either match in linear time
or are refused when the form is saved, and the whole answer must still match."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.forms.definitions import DefinitionInvalid, parse_definition
from core.forms.fields import FieldSpec, SubmissionInvalid, validate_values
from core.forms.patterns import fullmatches

# From the review (issue 11): each held Python's engine for seconds to hours.
STALLING = [
    ("[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*x", "a" * 1000, False),
    ("(?:a|a)+", "a" * 999 + "b", False),
    (r"(.|\s)+!", "a \n" * 333 + "a", False),
    (r"(?:\w|\d)+", "1" * 999 + "-", False),
    # The same patterns on answers they accept, so a refusal is not mistaken for speed.
    ("[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*x", "a" * 999 + "x", True),
    ("(?:a|a)+", "a" * 1000, True),
    (r"(.|\s)+!", "a \n" * 333 + "!", True),
    (r"(?:\w|\d)+", "1" * 1000, True),
]


def form_with(pattern: str) -> dict[str, Any]:
    field = {"name": "ref", "label": "Reference", "type": "textarea", "pattern": pattern}
    return {"name": "f", "title": "F", "fields": [field]}


@pytest.mark.parametrize(("pattern", "answer", "matches"), STALLING)
def test_stalling_patterns_are_saved_and_check_1000_characters(
    pattern: str, answer: str, matches: bool
) -> None:
    # benchmarks/patterns.py prints how long each check takes.
    (spec,) = parse_definition(form_with(pattern)).fields
    if matches:
        assert validate_values([spec], {"ref": answer}) == {"ref": answer}
    else:
        with pytest.raises(SubmissionInvalid) as caught:
            validate_values([spec], {"ref": answer})
        assert caught.value.errors == {
            "ref": "Reference is not in the expected format; check it against the hint."
        }


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?=(a*)*)a", "invalid perl operator"),
        (r"(a)\1", "invalid escape sequence"),
        ("a{1001}", "invalid repetition size"),
        ("(a++)+", "bad repetition operator"),  # possessive
    ],
)
def test_what_re2_cannot_compile_is_refused_naming_the_field(pattern: str, reason: str) -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(form_with(pattern))
    (key,) = caught.value.errors
    assert key == "fields[0].pattern"
    assert caught.value.errors[key].startswith(f"'pattern' cannot be used: {reason}.")


def test_the_length_cap_still_holds() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(form_with("a" * 201))
    assert caught.value.errors == {"fields[0].pattern": "'pattern' must be at most 200 characters."}


# Patterns both engines read alike; answers drawn from what they talk about.
SHARED = [
    "[A-Z]{3}-[0-9]{4}",
    r"\d+(\.\d+)?",
    "a|ab",
    "(?:yes|no)+",
    "x*",
    r"[a-c]+\s?[0-9]*",
    "(?i)abc",
    "ab$",
    "^ab",
    ".*",
]


@given(
    pattern=st.sampled_from(SHARED),
    answer=st.text(alphabet="abcxyzABC019-. \n", max_size=12),
)
def test_the_whole_answer_must_match_as_with_re_fullmatch(pattern: str, answer: str) -> None:
    assert fullmatches(pattern, answer) == (re.fullmatch(pattern, answer) is not None)


def test_a_prefix_or_suffix_match_is_not_enough() -> None:
    spec = FieldSpec("ref", "Reference", "text", pattern="[0-9]{4}")
    for answer in ("12345", "x1234", "1234x"):
        with pytest.raises(SubmissionInvalid):
            validate_values([spec], {"ref": answer})
    assert validate_values([spec], {"ref": "1234"}) == {"ref": "1234"}


def test_the_refusal_never_quotes_the_pattern() -> None:
    # RE2 quotes the rest of the pattern after "missing )"; input is never echoed back.
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(form_with("Canary-7f3a(("))
    assert "Canary" not in caught.value.errors["fields[0].pattern"]


@pytest.mark.parametrize(
    "pattern",
    [
        "[A-Z]{3}-[0-9]{4}",
        r"\d+(\.\d+)?",
        "([0-9]{3}-)+[0-9]{4}",
        "(?:yes|no)+",
        # Nested repetition was refused while Python's engine ran patterns; RE2 runs
        # it in linear time.
        "(a+)+",
        r"(\w+\s?)+",
        "[+*]+x*",
        "(ab?)+",
    ],
)
def test_safe_patterns_are_kept(pattern: str) -> None:
    definition = parse_definition(form_with(pattern))
    assert definition.fields[0].pattern == pattern
