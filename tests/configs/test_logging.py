"""The log pipeline (configs.logging): the redaction processor, last before the renderer,
against every sensitive field type the form catalogue can tell by shape, wherever a value
sits in a line (the event's text, a field, a nested field, an object's text, a traceback,
a standard-library record's arguments), in both formats; the request id's rules; and the
whole configuration in a process of its own."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest
import structlog

from configs.logging import (
    LOG_FORMATS,
    bind_request_id,
    current_request_id,
    formatter,
    redact_event,
    request_id_from,
)
from core.forms.fields import LOG_SHAPED

# One value of each shape, as typed, and what must not survive of it.
SENSITIVE = {
    "card_number": ("4000 0566 5566 5556", "5556"),
    "ssn": ("123-45-6789", "6789"),
    "iban": ("GB82 WEST 1234 5698 7654 32", "98765432"),
    "bank_account": ("021000021 123456789", "123456789"),
    "phone": ("+44 20 7946 0958", "7946"),
    "email": ("ada.lovelace@example.org", "lovelace"),
    "session": ("sfs_" + "k" * 40, "kkkkkkkkkk"),
    "api_key": ("sfk_" + "q" * 40, "qqqqqqqqqq"),
    "chat_token": ("sfv_" + "z" * 40, "zzzzzzzzzz"),
    "url_credentials": ("redis://user:hunter2pw@cache:6379/0", "hunter2pw"),
}


def test_every_shaped_field_type_has_a_sample() -> None:
    assert set(SENSITIVE) >= LOG_SHAPED


class Shown:
    """An object whose text holds a value: both renderers would show it."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return f"Shown({self.value})"

    __repr__ = __str__


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


@pytest.fixture(params=LOG_FORMATS)
def lines(request: pytest.FixtureRequest) -> Iterator[tuple[str, io.StringIO]]:
    """A logger of its own whose handler has the service's formatter: (name, output)."""
    # Letters only: the tests look for a value's digits (such as an SSN's last four) in
    # the line, and a hex name held "e67895" once, so "6789" was found in the logger's name.
    name = f"test.logging.{uuid.uuid4().hex.translate(_NO_DIGITS)}"
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(request.param))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield name, out
    finally:
        logger.removeHandler(handler)
        bind_request_id(None)


def _raise(value: str) -> None:
    raise ValueError(f"could not parse {value}")


WAYS: dict[str, Callable[[str, str], None]] = {
    "event text": lambda name, v: structlog.get_logger(name).info(f"typed {v} here"),
    "field": lambda name, v: structlog.get_logger(name).info("seen", value=v),
    "nested field": lambda name, v: structlog.get_logger(name).info(
        "seen", form={"fields": [{"answer": v}]}
    ),
    "object's text": lambda name, v: structlog.get_logger(name).info("seen", obj=Shown(v)),
    "stdlib arguments": lambda name, v: logging.getLogger(name).warning("Task %s[%s]", "t", v),
    "bound context": lambda name, v: structlog.get_logger(name).bind(who=v).info("seen"),
}


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("kind", sorted(SENSITIVE))
def test_a_sensitive_value_is_redacted_wherever_it_sits(
    lines: tuple[str, io.StringIO], kind: str, way: str
) -> None:
    name, out = lines
    value, tell = SENSITIVE[kind]
    WAYS[way](name, value)
    written = out.getvalue()
    assert written.strip(), "nothing was logged"
    assert tell not in written, written
    assert "redacted" in written or "***@" in written, written


@pytest.mark.parametrize("kind", sorted(SENSITIVE))
@pytest.mark.parametrize("stdlib", [False, True], ids=["structlog", "stdlib"])
def test_a_traceback_is_redacted(lines: tuple[str, io.StringIO], kind: str, stdlib: bool) -> None:
    name, out = lines
    value, tell = SENSITIVE[kind]
    try:
        _raise(value)
    except ValueError:
        if stdlib:
            logging.getLogger(name).exception("task raised")
        else:
            structlog.get_logger(name).exception("task raised")
    written = out.getvalue()
    assert "ValueError: could not parse" in written.replace("\\n", "\n")
    assert tell not in written, written


def test_ordinary_lines_pass_unchanged() -> None:
    event = {
        "event": "submission stored",
        "submission_id": "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
        "duration_ms": 12.5,
        "count": 3,
        "ok": True,
        "nothing": None,
    }
    assert redact_event(None, "info", dict(event)) == event


def test_json_lines_put_the_what_first_and_keep_non_ascii(lines: tuple[str, io.StringIO]) -> None:
    name, out = lines
    bind_request_id("req-1")
    structlog.get_logger(name).info("gespeichert", city="Zürich")
    written = out.getvalue()
    if written.startswith("{"):
        event = json.loads(written)
        assert list(event)[:5] == ["timestamp", "level", "logger", "event", "request_id"]
        assert "Zürich" in written  # as itself: a scan for a value must find it
    else:
        assert "gespeichert" in written and "request_id=req-1" in written


@pytest.mark.parametrize("given", ["abc", "3f2a9c1e-5b7d-4e8f", "A.b_c:d-e", "x" * 64])
def test_a_plain_request_id_is_kept(given: str) -> None:
    assert request_id_from(given) == given


@pytest.mark.parametrize(
    "given", [None, "", "x" * 65, "a b", 'a"b', "a\nb", "a/b", "é", "4242 4242 4242 4242"]
)
def test_any_other_request_id_is_replaced_by_a_new_one(given: str | None) -> None:
    made = request_id_from(given)
    assert made != given and len(made) == 32 and int(made, 16) >= 0
    assert request_id_from(given) != made  # new each time


def test_the_request_id_is_bound_and_unbound() -> None:
    bind_request_id("req-2")
    assert current_request_id() == "req-2"
    bind_request_id(None)
    assert current_request_id() is None


PROCESS = """
import logging, warnings, structlog
from configs.logging import bind_request_id, configure_logging
configure_logging("INFO", FORMAT)
bind_request_id("req-3")
logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:1")
logging.getLogger("celery.app.trace").info("Task %s[%s] succeeded", "t", "4000056655665556")
logging.getLogger("multiprocessing").error("Process %r exited", "ForkPoolWorker-1")
logging.getLogger("uvicorn.access").warning("GET /f/otk-in-the-path")
logging.getLogger("kombu").info("below the level kept for kombu")
warnings.warn("a library warns about 123-45-6789", UserWarning, stacklevel=1)
structlog.get_logger("workers.tasks").info("agent notified", agent_id="a-1")
"""


def _run(log_format: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROCESS.replace("FORMAT", repr(log_format))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == ""
    return done.stderr


def test_configured_every_line_is_one_json_object_through_the_redaction() -> None:
    events = [json.loads(line) for line in _run("json").splitlines()]
    assert [e["logger"] for e in events] == [
        "uvicorn.error",
        "celery.app.trace",
        "multiprocessing",
        "py.warnings",
        "workers.tasks",
    ]
    assert all(e["request_id"] == "req-3" for e in events)
    text = json.dumps(events)
    assert "4000056655665556" not in text and "6789" not in text
    assert "otk-in-the-path" not in text  # uvicorn's access log stays off


def test_configured_for_development_lines_are_readable() -> None:
    written = _run("console")
    assert not any(line.startswith("{") for line in written.splitlines())
    assert "agent notified" in written and "agent_id=a-1" in written
    assert "request_id=req-3" in written and "4000056655665556" not in written


CRASHES = """
import threading
from configs.logging import configure_logging

configure_logging("INFO", "json")
def crash_in_a_thread() -> None:
    raise ValueError("thread saw 123-45-6789")
def leave_a_thread() -> None:
    raise SystemExit()  # ends the thread quietly: not a crash
for target in (leave_a_thread, crash_in_a_thread):
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
raise RuntimeError("card 4000 0566 5566 5556 in a message")
"""


def test_an_uncaught_exception_is_one_redacted_json_line_from_any_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASHES], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1  # still a crash, only written as a log line
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["logger"], e["level"], e["event"]) for e in events] == [
        ("secureforms.crash", "critical", "uncaught exception")
    ] * 2
    assert "ValueError" in events[0]["exception"] and "RuntimeError" in events[1]["exception"]
    assert "6789" not in done.stderr and "5556" not in done.stderr
