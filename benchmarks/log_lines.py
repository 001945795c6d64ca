"""What one log line costs through the service's pipeline (configs.logging): structlog,
the redaction processor and the renderer, for each `log_format`, beside the standard
library's plain formatter with the same redaction as a filter (the pipeline before
structlog). Prints microseconds a line; asserts nothing.

    .venv/bin/python benchmarks/log_lines.py [--lines 20000]
"""

from __future__ import annotations

import argparse
import functools
import io
import logging
import time
from collections.abc import Callable

import structlog

from configs.logging import LOG_FORMATS, bind_request_id, formatter, redact


def _logger(name: str, fmt: logging.Formatter, *filters: logging.Filter) -> logging.Logger:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(fmt)
    for f in filters:
        handler.addFilter(f)
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _per_line(lines: int, emit: Callable[[], None]) -> float:
    started = time.perf_counter()
    for _ in range(lines):
        emit()
    return (time.perf_counter() - started) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20000)
    args = parser.parse_args()
    bind_request_id("0123456789abcdef0123456789abcdef")
    fields = {"method": "POST", "route": "/api/v1/visitor/submit", "status": 202}
    print(f"{'pipeline':<34} {'us/line':>8}")
    for log_format in LOG_FORMATS:
        _logger(f"bench.{log_format}", formatter(log_format))
        log = structlog.get_logger(f"bench.{log_format}")
        cost = _per_line(
            args.lines, functools.partial(log.info, "request", **fields, duration_ms=12.3)
        )
        print(f"{'structlog, ' + log_format:<34} {cost:>8.1f}")
    plain = logging.Formatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    old = _logger("bench.plain", plain, _Redact())
    cost = _per_line(
        args.lines, lambda: old.info("%s %s %s %.1fms", "POST", fields["route"], 202, 12.3)
    )
    print(f"{'stdlib formatter + redact filter':<34} {cost:>8.1f}")


if __name__ == "__main__":
    main()
