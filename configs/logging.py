"""Logging as data, plus the filter that keeps sensitive values out of every log line.

Values never reach a log call on purpose; the filter is the second wall for the day one
does by accident (an exception message quoting its input, a library's debug output).
It knows each sensitive field type of the form catalogue that has a shape it can tell
from ordinary log text (core.forms.fields.LOG_SHAPED, and the test that holds the two
together): card numbers and bank accounts (long digit runs), SSNs, IBANs, phone numbers
and email addresses.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from stdnum import luhn
from stdnum.iso7064 import mod_97_10
from stdnum.us import ssn

# \d and \s are Unicode here on purpose: full-width digits and no-break spaces are
# typed too.
_LONG_DIGITS = re.compile(r"(?<![\w-])\d(?:[\s./_-]{0,3}\d){11,29}(?![\w-])")
_SSN = re.compile(r"(?<![\w-])(\d{3})([\s-]?)(\d{2})\2(\d{4})(?![\w-])")
# The form drops spaces and dashes anywhere in an IBAN, so they may be anywhere here; the
# candidate may run on into the next word, and _iban finds where the IBAN ends.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9-])[A-Z]{2}[\s-]*[0-9][\s-]*[0-9](?:[\s-]*[A-Z0-9]){11,30}", re.I
)
_PHONE = re.compile(r"(?<![\w+-])(?:\+|00)\d(?:[\s.()-]{0,2}\d){6,14}(?![\w-])")
# The form takes any local part without spaces (core.forms.fields), so this does too.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
# Sessions, site API keys and visitors' chat tokens: each a bearer credential.
_SECRETS = re.compile(r"\b(sfs_|sfk_|sfv_)[A-Za-z0-9_-]{10,}")
# A scheme starts where no scheme character stands before it: without that, a long line
# holding an "@" was searched from every position (seconds at 20,000 characters).
_URL_CREDENTIALS = re.compile(r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}://)[^@/\s]*@", re.I)
# Every line the service logs passes here, and almost none has anything to hide: a cheap
# test that the digit patterns *could* match comes first (each implies two digits in a
# row: an IBAN's check digits, and more in the others).
_TWO_DIGITS = re.compile(r"\d\d")


def redact(text: str) -> str:
    if "@" in text:
        text = _URL_CREDENTIALS.sub(r"\1***@", text)
        text = _EMAIL.sub("[redacted-email]", text)
    if _TWO_DIGITS.search(text):
        # An IBAN first: its digits alone would be taken for an account number, leaving
        # the country and bank in front.
        text = _IBAN.sub(_iban, text)
        text = _LONG_DIGITS.sub(_long_digits, text)
        text = _SSN.sub(_ssn, text)
        text = _PHONE.sub("[redacted-phone]", text)
    if "sfs_" in text or "sfk_" in text or "sfv_" in text:
        text = _SECRETS.sub(r"\1[redacted]", text)
    return text


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdecimal())


def _long_digits(found: re.Match[str]) -> str:
    """Any 12+ digits grouped by single spaces, dashes or slashes (cards, accounts,
    references); with other separators (dots, runs) only a card, so IPs stay."""
    run = found.group()
    if re.fullmatch(r"\d(?:[ /-]?\d)+", run):
        return "[redacted-digits]"
    digits = _digits(run)
    return "[redacted-digits]" if 13 <= len(digits) <= 19 and luhn.is_valid(digits) else run


def _ssn(found: re.Match[str]) -> str:
    # With separators the shape is enough; nine digits alone only when a valid SSN.
    number = _digits("".join(found.group(1, 3, 4)))
    return "[redacted-ssn]" if found.group(2) or ssn.is_valid(number) else found.group()


def _iban(found: re.Match[str]) -> str:
    """The longest valid IBAN the candidate starts with, redacted, and the rest as it was.

    Valid by the form's own rule (mod 97 only), not the per-country formats: what the
    form accepts is what could be logged."""
    text = found.group()
    ends = [i + 1 for i, char in enumerate(text) if char.isalnum()]
    after = found.string[found.end() : found.end() + 1]
    for end in reversed(ends[14:]):
        following = text[end : end + 1] or after
        if following.isalnum() or following == "-":
            continue  # ends inside a word, or inside an id like a UUID
        number = re.sub(r"[\s-]", "", text[:end]).upper()
        if mod_97_10.is_valid(number[4:] + number[:4]):
            return "[redacted-iban]" + text[end:]
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def logging_config(level: str = "INFO") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "configs.logging.RedactingFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["redact"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's access log prints raw paths, and visitor links carry OTKs in the
            # path; the api writes its own access log with route templates instead.
            "uvicorn.access": {"level": "WARNING", "propagate": False, "handlers": []},
            "celery": {"level": level},
            "kombu": {"level": "WARNING"},
            "amqp": {"level": "WARNING"},
        },
    }
