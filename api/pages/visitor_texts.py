"""The visitor form's words that are not in its template: the time left, said by Babel
for the page's language, and the texts its script shows (the countdown, the warning, "I
need more time"), handed to it in data attributes (the CSP allows no inline script).

Called inside api.i18n.speaking, so every text is in the page's language.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from babel import Locale
from babel.dates import format_timedelta
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.units import format_unit

from api import i18n

_PLURAL_SAMPLES = range(0, 1_000_001)


def time_left(seconds: int) -> str:
    """About how long is left, in whole minutes ("less than a minute" under one)."""
    if seconds < 60:
        return i18n.gettext_("less than a minute")
    minutes = -(-seconds // 60)  # rounded up: "about 15 minutes" for 14 min 10 s
    return str(
        format_timedelta(
            timedelta(minutes=minutes),
            granularity="minute",
            threshold=10**6,  # never rounded up to hours: 90 minutes stays 90 minutes
            locale=i18n.current(),
        )
    )


def _sample(locale: Locale, tag: str) -> int:
    """A whole number of the plural category `tag` (1 is "one", 1000000 is "many"...)."""
    for n in (1, 2, 0, 5, 1_000_000):
        if locale.plural_form(n) == tag:
            return n
    return next(n for n in _PLURAL_SAMPLES if locale.plural_form(n) == tag)


def _patterns(unit: str, locale: Locale) -> dict[str, str]:
    """Babel's "{0} minutes" per plural category, for the script to fill in."""
    patterns = {}
    for tag in (*sorted(locale.plural_form.tags), "other"):
        n = _sample(locale, tag)
        said = str(format_unit(n, unit, length="long", locale=locale))
        patterns[tag] = said.replace(str(format_decimal(n, locale=locale)), "{0}", 1)
    return patterns


def countdown_units() -> str:
    """JSON: the countdown's words, from Babel's unit and list data for the language."""
    locale = Locale.parse(i18n.current())
    try:
        join = str(format_list(["{0}", "{1}"], style="unit-narrow", locale=locale))
    except KeyError:  # some locales lack the two-item narrow pattern
        join = "{0} {1}"
    return json.dumps(
        {
            "locale": str(locale),
            "minute": _patterns("duration-minute", locale),
            "second": _patterns("duration-second", locale),
            "join": join,
        },
        ensure_ascii=False,
    )


def script_texts() -> str:
    """JSON: every text visitor-form.js shows, translated (`%(time)s` is filled in there)."""
    _ = i18n.gettext_
    return json.dumps(
        {
            "error": _("Error:"),
            "fixed": _("Fixed."),
            "noTime": _("no time"),
            "timeLeft": _("Time left to send this form: %(time)s."),
            "warning": _("This form will close in %(time)s. Do you need more time?"),
            "more": _("I need more time"),
            "expired": _(
                "Time is up: this form has closed and nothing was sent. "
                "Go back to your chat and ask the agent to send it again."
            ),
            "extended": _("Done: you now have %(time)s to send this form."),
            "noMore": _(
                "No more time can be added. Please send the form before the time runs out."
            ),
            "failed": _("We could not add more time just now. Please try again."),
        },
        ensure_ascii=False,
    )


# The transcript's system lines (core.form_requests), stored in English for everyone; the
# visitor's window says them in the visitor's language.
_SYSTEM_LINE = re.compile(r"Secure form '(?P<title>.*)' (?P<what>sent|submitted)", re.S)


def system_text(text: str) -> str:
    found = _SYSTEM_LINE.fullmatch(text)
    if found is None:
        return text
    if found["what"] == "sent":
        return i18n.gettext_("Secure form '%(title)s' sent", title=found["title"])
    return i18n.gettext_("Secure form '%(title)s' submitted", title=found["title"])


def chat_script_texts() -> str:
    """JSON: every text chat.js shows, translated (`%(title)s` is filled in there)."""
    _ = i18n.gettext_
    return json.dumps(
        {
            "opened": _(
                "You opened this form. If you closed it without sending, "
                "ask the agent to send it again."
            ),
            "submitted": _("You sent this form. Thank you!"),
            "expired": _(
                "This form has expired. Ask the agent to send it again if you still need to."
            ),
            "cardTitle": _("Secure form: %(title)s"),
            "cardText": _(
                "Your agent asks you to fill in this form. "
                "What you type there never appears in this chat."
            ),
            "open": _("Open secure form"),
            "newTab": _("“%(title)s” (opens in a new tab)"),
            "ended": _("The chat has ended."),
            "you": _("You"),
            "closed": _("This chat has ended."),
            "stopped": _("Live updates stopped. Reload the page to see new messages."),
            "empty": _("Type a message first."),
            "masked": _(
                "We hid the card number you typed. Never type card details in the chat: "
                "your agent can send you a secure form for them."
            ),
            "failed": _("Your message was not sent. Please try again."),
            "sent": _("Secure form '%(title)s' sent"),
            "submittedLine": _("Secure form '%(title)s' submitted"),
        },
        ensure_ascii=False,
    )
