"""The words of validation messages, in the language of whoever reads them.

core has no catalogues of its own: they are the api's (api/locales, one per visitor
language). While the api answers a visitor it hands in that language's translations and
Babel locale (api.i18n.speaking); outside of that, messages are English. A ContextVar, not
a parameter, because the messages are made deep inside the checkers of every field type,
and a thread started for a request (starlette's threadpool) inherits it.

`_` and `N_` are the names the catalogue extraction looks for (api/locales/babel.cfg).
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_decimal

from core.errors import ValidationFailed

# The languages the visitor's side is translated into (api/locales); English is the source.
LANGUAGES = ("en", "fr", "es", "de")
DEFAULT = "en"


def checked_language(value: object, name: str = "language") -> str | None:
    """A language someone asked for (a form request's, a site's default): one we have, or
    None when none was asked; anything else is refused, naming the field."""
    if value is None:
        return None
    if isinstance(value, str) and value in LANGUAGES:
        return value
    raise ValidationFailed(
        f"{name} must be one of {', '.join(LANGUAGES)}.",
        fields={name: f"One of {', '.join(LANGUAGES)} (right-to-left languages come later)."},
    )


@dataclass(frozen=True, slots=True)
class Speech:
    translations: gettext.NullTranslations
    locale: str


_ENGLISH = Speech(gettext.NullTranslations(), "en")
_current: ContextVar[Speech] = ContextVar("speech", default=_ENGLISH)


@contextmanager
def speaking(translations: gettext.NullTranslations, locale: str) -> Iterator[None]:
    token = _current.set(Speech(translations, locale))
    try:
        yield
    finally:
        _current.reset(token)


def N_(message: str) -> str:
    """Marks a text for the catalogue; it is translated where it is said (`_`)."""
    return message


def _(message: str, **values: object) -> str:
    """`message` in the current language, its `%(name)s` filled in (never empty)."""
    text = _current.get().translations.gettext(message) or message
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = _current.get().translations.ngettext(singular, plural, n)
    return text % {"num": number(n), **values}


def number(value: int | Decimal | float) -> str:
    """A number as the reader writes it (1 234,5 in French), by Babel's locale data."""
    return str(format_decimal(value, locale=_current.get().locale, group_separator=False))


def language() -> str:
    return _current.get().locale
