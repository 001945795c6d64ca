"""Logging for every process: structlog over the standard library, JSON lines or readable
ones (the `log_format` setting), each line redacted last before it is written.

Values never reach a log call on purpose; redaction is the second wall for the day one
does by accident (an exception message quoting its input, a library's debug output).
It knows each sensitive field type of the form catalogue that has a shape it can tell
from ordinary log text (core.forms.fields.LOG_SHAPED, and the test that holds the two
together): card numbers and bank accounts (long digit runs), SSNs, IBANs, phone numbers
and email addresses.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import threading
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import structlog
from stdnum import luhn
from stdnum.iso7064 import mod_97_10
from stdnum.us import ssn
from structlog.typing import EventDict, Processor

# \d and \s are Unicode here on purpose: full-width digits and no-break spaces are
# typed too.
_LONG_DIGITS = re.compile(r"(?<![\w-])\d(?:[\s./_-]{0,3}\d){11,29}(?![\w-])")
_SSN = re.compile(r"(?<![\w-])(\d{3})([\s-]?)(\d{2})\2(\d{4})(?![\w-])")
# The form drops spaces and dashes anywhere in an IBAN, so they may be anywhere here; the
# candidate may run on into the next word, and _iban finds where the IBAN ends.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9-])[A-Z]{2}[\s-]*[0-9][\s-]*[0-9](?:[\s-]*[A-Z0-9]){11,30}", re.I
)
# Ids are logged on every line, and about one UUID in 1,800 starts with two letters and two
# digits and passes mod 97 by chance: a UUID (dashed, or its 32 bare hex digits) is an id.
_UUID = re.compile(
    r"[0-9a-f]{8}(-?)[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{12}(?![0-9a-z])", re.I
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
        # A phone before an SSN: nine of a phone's digits ("001010001 (00000000", its
        # "00" prefix included) can pass for a bare SSN, and the rest, left behind a
        # redacted SSN, were too few for a phone on their own and showed.
        text = _PHONE.sub("[redacted-phone]", text)
        text = _SSN.sub(_ssn, text)
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
    if _UUID.match(text):
        return text
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


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    # Anything else is shown as its text by both renderers: redact that text.
    return redact(str(value))


def redact_event(_logger: Any, _method: str, event: EventDict) -> EventDict:
    """The structlog processor every line passes just before it is rendered: each value,
    nested ones and the formatted traceback included, through `redact`."""
    first = {key: event[key] for key in _FIRST if key in event}
    rest = {key: value for key, value in event.items() if key not in first}
    return {key: _redacted(value) for key, value in (first | rest).items()}


# A JSON line reads like a console one: when, how bad, where, what, then the details.
_FIRST = ("timestamp", "level", "logger", "event", "request_id")


# -- the request id ----------------------------------------------------------------------

# The Celery message header carrying it from the api's submit to the worker's task.
REQUEST_ID_HEADER = "request_id"
# A caller's X-Request-Id is kept when it is this short and plain; anything else (too
# long, spaces, quotes, control characters) is replaced by one of ours.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(given: str | None) -> str:
    """The caller's id when it is safe to log and echo, else a new one."""
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def bind_request_id(request_id: str | None) -> None:
    """This context's log lines (a request, a task) carry `request_id` from now on; a
    context with none carries none."""
    structlog.contextvars.clear_contextvars()
    if request_id is not None:
        structlog.contextvars.bind_contextvars(request_id=request_id)


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


# -- configuration -----------------------------------------------------------------------

LOG_FORMATS = ("json", "console")

# What every line gets, from structlog or from the standard library (Celery, uvicorn,
# kombu, alembic and our modules' `logging.getLogger` lines alike).
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(log_format: str) -> Processor:
    if log_format == "json":
        # Non-ASCII as itself: a canary scan of the logs must see what was written.
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty(),
        # Tracebacks are formatted (and redacted) before this: Rich's would show locals.
        exception_formatter=structlog.dev.plain_traceback,
    )


def formatter(log_format: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The one formatter of every handler: redaction last, then the renderer."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_event,
            _renderer(log_format),
        ],
    )


def logging_config(level: str = "INFO", log_format: str = "json") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": {"()": "configs.logging.formatter", "log_format": log_format}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "structlog"},
            "drop": {"class": "logging.NullHandler"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's access log prints raw paths, and visitor links carry OTKs in the
            # path; the api writes its own access log with route templates instead. A
            # handler that drops: with none, logging's last resort would print its
            # warnings raw.
            "uvicorn.access": {"level": "WARNING", "propagate": False, "handlers": ["drop"]},
            "celery": {"level": level},
            "kombu": {"level": "WARNING"},
            "amqp": {"level": "WARNING"},
            # billiard (Celery's pool) keeps this logger from propagating: without a
            # handler of its own, its lines went out bare through logging's last resort.
            "multiprocessing": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
    }


def _route_structlog_to_logging() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


# On import, not only in configure_logging: a structlog line is a standard-library record
# in every process, tests' and benchmarks' included, never structlog's own print to stdout
# that no handler (and no redaction) would see.
_route_structlog_to_logging()


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)  # Ctrl-C at a terminal stays quiet and short
        return
    logging.getLogger("secureforms.crash").critical(
        "uncaught exception", exc_info=(kind, value, tb)
    )


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    # SystemExit ends a thread quietly, as threading's own hook lets it.
    if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """Route every log line of this process, structlog's and the standard library's,
    through one handler whose formatter redacts and renders it."""
    logging.config.dictConfig(logging_config(level, log_format))
    logging.captureWarnings(True)  # a library's warning is a line like any other
    # A crash is a line like any other too: Python's own hooks print the traceback raw,
    # the one output a log collector could not read and the redaction never saw.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
