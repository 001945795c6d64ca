"""A field's label, help and option texts in other languages than the form's own.

    {"label": "Card number", "labels": {"fr": "Numéro de carte"},
     "help": "On the front", "helps": {"fr": "Au recto"},
     "type": "select", "options": ["Yes", "No"],
     "option_labels": {"fr": {"Yes": "Oui", "No": "Non"}}}

Only what the visitor reads is translated: an option's value (what is submitted, checked
and stored) stays the form's own. A text missing in a language falls back to the form's.
The languages are the visitor pages' (core.forms.speech.LANGUAGES).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .speech import LANGUAGES

TEXT_KEYS = ("labels", "helps", "option_labels")
Pairs = tuple[tuple[str, str], ...]
# (key, what went wrong): how the definition reader records a problem under a key.
Fail = Callable[[str, str], None]
# Why a text cannot be shown as it is (multiline?), or None: the definition reader's rule.
Problem = Callable[[str, bool], "str | None"]


@dataclass(frozen=True, slots=True)
class FieldTexts:
    labels: Pairs = ()
    helps: Pairs = ()
    option_labels: tuple[tuple[str, Pairs], ...] = ()

    def label(self, language: str) -> str | None:
        return dict(self.labels).get(language)

    def help(self, language: str) -> str | None:
        return dict(self.helps).get(language)

    def option(self, language: str, value: str) -> str | None:
        return dict(dict(self.option_labels).get(language, ())).get(value)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {}
        if self.labels:
            data["labels"] = dict(self.labels)
        if self.helps:
            data["helps"] = dict(self.helps)
        if self.option_labels:
            data["option_labels"] = {lang: dict(pairs) for lang, pairs in self.option_labels}
        return data


def read_texts(
    data: Mapping[str, object],
    options: tuple[str, ...] | None,
    fail: Fail,
    problem: Problem,
) -> FieldTexts | None:
    """The field's `labels`, `helps` and `option_labels`, each problem recorded under its
    path (`labels.fr`); None when it has none."""
    labels = _by_language(data.get("labels"), "labels", 200, False, fail, problem)
    helps = _by_language(data.get("helps"), "helps", 500, True, fail, problem)
    option_labels = _option_labels(data.get("option_labels"), options, fail, problem)
    if not (labels or helps or option_labels):
        return None
    return FieldTexts(labels, helps, option_labels)


def _languages(value: object, key: str, fail: Fail) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(key, f"'{key}' must be an object of language codes ({', '.join(LANGUAGES)}).")
        return {}
    for lang in value:
        if lang not in LANGUAGES:
            fail(f"{key}.{str(lang)[:16]}", f"Unknown language; use {', '.join(LANGUAGES)}.")
    return {lang: text for lang, text in value.items() if lang in LANGUAGES}


def _text(
    value: object, key: str, limit: int, multiline: bool, fail: Fail, problem: Problem
) -> str | None:
    if not isinstance(value, str) or not value.strip():
        fail(key, f"'{key}' must be text, not blank.")
    elif len(value) > limit:
        fail(key, f"'{key}' must be at most {limit} characters.")
    elif (why := problem(value, multiline)) is not None:
        fail(key, f"'{key}' {why}")
    else:
        return value
    return None


def _by_language(
    value: object, key: str, limit: int, multiline: bool, fail: Fail, problem: Problem
) -> Pairs:
    found = []
    for lang, text in _languages(value, key, fail).items():
        said = _text(text, f"{key}.{lang}", limit, multiline, fail, problem)
        if said is not None:
            found.append((lang, said))
    return tuple(sorted(found))


def _option_labels(
    value: object, options: tuple[str, ...] | None, fail: Fail, problem: Problem
) -> tuple[tuple[str, Pairs], ...]:
    key = "option_labels"
    found = []
    for lang, shown in _languages(value, key, fail).items():
        if not isinstance(shown, dict):
            fail(f"{key}.{lang}", f"'{key}.{lang}' must map options to their text.")
            continue
        pairs = []
        for option, text in shown.items():
            if option not in (options or ()):
                fail(f"{key}.{lang}", f"'{str(option)[:200]}' is not one of this field's options.")
                continue
            said = _text(text, f"{key}.{lang}", 200, False, fail, problem)
            if said is not None:
                pairs.append((option, said))
        if pairs:
            found.append((lang, tuple(pairs)))
    return tuple(sorted(found))
