"""The visitor's language: which one a page is in, and its gettext catalogue.

The catalogues are `api/locales/<lang>/LC_MESSAGES/messages.po` (English is the source
text and needs none). A `.mo` compiled by `pybabel compile -d api/locales` at build time
is used when present; a checkout without one compiles the `.po` in memory once, so a
fresh tree serves the same texts. A string a catalogue lacks, or leaves empty, comes out
in English: never as an empty string.

The language is chosen in this order: the one the request names (when it is one we
have), the visitor's Accept-Language, the site's default, English. Right-to-left
languages have no catalogue yet: an Arabic visitor gets the next choice.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from core.forms import speech

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES, DEFAULT = speech.LANGUAGES, speech.DEFAULT
MAX_ACCEPT = 20  # language ranges read from one header; the rest are ignored

_current: ContextVar[str] = ContextVar("language", default=DEFAULT)


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language not in LANGUAGES or language == DEFAULT:
        return gettext.NullTranslations()
    folder = LOCALES / language / "LC_MESSAGES"
    compiled = folder / "messages.mo"
    if compiled.exists():
        with compiled.open("rb") as fp:
            return Translations(fp)
    with (folder / "messages.po").open("rb") as fp:
        catalog = read_po(fp, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # untranslated and fuzzy entries are left out: English shows
    buffer.seek(0)
    return Translations(buffer)


def _accepted(header: str) -> list[str]:
    """Accept-Language's ranges, best first (RFC 9110 weights; q=0 means "not this")."""
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:MAX_ACCEPT]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and weight > 0:
            ranges.append((-weight, index, tag.strip().replace("_", "-")))
    return [tag for _, _, tag in sorted(ranges)]


def choose(requested: str | None, accept_language: str | None, site_default: str = DEFAULT) -> str:
    """The page's language: the request's, then Accept-Language's, then the site's."""
    if requested in LANGUAGES:
        return str(requested)
    if accept_language:
        found = negotiate_locale(_accepted(accept_language), list(LANGUAGES), sep="-")
        if found:
            return str(found)
    return site_default if site_default in LANGUAGES else DEFAULT


def N_(message: str) -> str:
    """Marks a text for the catalogues; it is translated where it is shown (`gettext_`)."""
    return message


def gettext_(message: str, **values: Any) -> str:
    """The message in the current page's language, `%(name)s` filled in."""
    text = translations(_current.get()).gettext(message) or message
    return text % values if values else text


def ngettext_(singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def current() -> str:
    return _current.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Texts made inside come out in `language` (a page's render, its error texts)."""
    chosen = language if language in LANGUAGES else DEFAULT
    token = _current.set(chosen)
    try:
        # core's validation messages speak it too (core.forms.speech).
        with speech.speaking(translations(chosen), chosen):
            yield
    finally:
        _current.reset(token)


def display_name(language: str) -> str:
    return str(Locale.parse(language).get_display_name(language) or language)


def choices() -> list[tuple[str, str]]:
    """(code, name) of every language, each named in itself: "français", not "French"."""
    return [(code, display_name(code)) for code in LANGUAGES]


def english_name(language: str) -> str:
    """The language's name in English, for the console ("French")."""
    return str(Locale.parse(language).get_display_name("en") or language)
