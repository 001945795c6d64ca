"""Logging as data, plus the filter that keeps card-like numbers out of every log line.

Values never reach a log call on purpose; the filter is the second wall for the day one
does by accident (an exception message quoting its input, a library's debug output).
"""

from __future__ import annotations

import logging
import re
from typing import Any

_LONG_DIGITS = re.compile(r"(?<![\w-])(?:\d[ -]?){11,22}\d(?![\w-])")
_SECRETS = re.compile(r"\b(sfs_|sfk_)[A-Za-z0-9_-]{10,}")
_URL_CREDENTIALS = re.compile(r"([a-z0-9+.-]+://)[^@/\s]*@", re.I)
# Every line the service logs passes here, and almost none has anything to hide: cheap
# tests that each pattern *could* match come first (each is implied by its pattern).
_TWELVE_DIGITS = re.compile(r"\d(?:[ -]?\d){11}")


def redact(text: str) -> str:
    if _TWELVE_DIGITS.search(text):
        text = _LONG_DIGITS.sub("[redacted-digits]", text)
    if "sfs_" in text or "sfk_" in text:
        text = _SECRETS.sub(r"\1[redacted]", text)
    if "@" in text:
        text = _URL_CREDENTIALS.sub(r"\1***@", text)
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
