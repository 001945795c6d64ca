"""The `secureforms` command called in this process: `cli.main.main(argv)` with the
environment, stdout, stderr and exit code a subprocess would have had.

A fresh interpreter per command costs about a second of imports (more on a loaded
machine) and tests run hundreds of commands. The subprocess path stays tested where it
matters: tests/cli runs the entrypoint itself (`python -m cli.main`), and every stack's
api, worker and beat are processes started by it.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout

# The environment, sys.stdout/stderr and the logging tree belong to the whole process:
# one command at a time, even when a test runs them on threads.
_ONE_AT_A_TIME = threading.Lock()


def run_cli(env: Mapping[str, str], args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """What `secureforms *args` does with `env` as its only SECUREFORMS_* settings."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with (
        _ONE_AT_A_TIME,
        _environment(env),
        _logging_restored(),
        redirect_stdout(out),
        redirect_stderr(err),
    ):
        code = _exit_code(main, list(args), err)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def _exit_code(main: Callable[[list[str]], int], args: list[str], err: io.StringIO) -> int:
    try:
        return int(main(args))
    except SystemExit as exc:
        # As the interpreter does at exit: None is 0, a message goes to stderr and is 1.
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=err)
        return 1


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("SECUREFORMS_")]:
        del os.environ[key]
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _logging_restored() -> Iterator[None]:
    """Each command configures logging (cli.common.settings_or_exit: a handler on its
    stderr, levels): put back what the test run had, pytest's own handlers included."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    warnings_logged = logging._warnings_showwarning is not None  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if not warnings_logged:  # a command may send warnings to its log: pytest sees them
            logging.captureWarnings(False)
        for lg, level, handlers, propagate, disabled in saved:
            for handler in [h for h in lg.handlers if h not in handlers]:
                handler.close()
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate, lg.disabled = propagate, disabled
        for lg in manager.loggerDict.values():  # made by the command: back to defaults
            if isinstance(lg, logging.Logger) and all(lg is not s[0] for s in saved):
                lg.handlers.clear()
                lg.setLevel(logging.NOTSET)
