"""What every `secureforms` command starts with: settings, logging and the runtime."""

from __future__ import annotations

import getpass
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from configs import ConfigError, Settings, load_settings
from configs.logging import configure_logging

if TYPE_CHECKING:
    from core.runtime import Runtime

# What runtime_or_exit opened for the command now running; main() closes them when it
# returns, so a command called in-process (the CLI tests) leaves no connection behind.
_opened: list[Runtime] = []


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"secureforms: configuration error: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    return settings


def ask_new_password(what: str) -> str | None:
    """A new password typed twice without echo on a terminal, or one line of standard
    input when it is not one (a script's pipe); None, said on stderr, when it is empty
    or the two differ."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"{what.capitalize()}: ")
        again = getpass.getpass(f"{what.capitalize()} again: ")
    else:
        password = again = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print(f"secureforms: no {what} given", file=sys.stderr)
        return None
    if not secrets.compare_digest(password.encode(), again.encode()):
        print(f"secureforms: the two {what}s differ; nothing was changed", file=sys.stderr)
        return None
    return password


def runtime_or_exit(settings: Settings) -> Runtime:
    from core.runtime import Runtime
    from vault import KeyringError

    try:
        rt = Runtime.from_settings(settings)
    except KeyringError as exc:
        sys.exit(f"secureforms: {exc}")
    _opened.append(rt)
    return rt


@contextmanager
def runtimes_closed() -> Iterator[None]:
    """Every runtime runtime_or_exit opens inside is closed on the way out (closing one
    twice is harmless: a command may close its own first)."""
    try:
        yield
    finally:
        while _opened:
            _opened.pop().close()
