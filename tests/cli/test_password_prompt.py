"""`site create` without `--admin-password` asks for it: twice and without echo on a
terminal (a real pseudo-terminal here, made the command's controlling one, as a shell's
is), or one line of standard input from a pipe. The password is never on the command line,
so neither `ps` nor the shell history holds it."""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import termios
import time
import uuid

from support.stack import CLI, ROOT, Stack

from configs import load_settings
from core.logins import log_in
from core.runtime import Runtime


def _on_a_terminal(stack: Stack, args: list[str], typed: list[str]) -> tuple[int, str]:
    """Run the CLI on a new pseudo-terminal; type each of `typed` once the prompt for it
    shows. (exit code, everything the terminal showed)."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:  # in the child, after setsid (start_new_session)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [*CLI, *args],
        env=stack.process_env(),
        cwd=ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 90
    answers = list(typed)
    try:
        while time.monotonic() < deadline:
            # getpass turns echo off before it writes its prompt: type only after it shows.
            if answers and screen.count(b"password") > len(typed) - len(answers):
                os.write(master, answers.pop(0).encode() + b"\n")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        return proc.wait(30), screen.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _signs_in(stack: Stack, site_id: str, username: str, password: str) -> bool:
    rt = Runtime.from_settings(load_settings(stack.env))
    try:
        return bool(log_in(rt, site_id, username, password)["token"])
    finally:
        rt.close()


def test_the_admin_password_is_asked_for_without_echo_on_a_terminal(cli: Stack) -> None:
    password = f"typed-{uuid.uuid4().hex}"
    args = ["site", "create", f"tty-{uuid.uuid4().hex[:6]}", "--admin-username", "ops"]
    code, screen = _on_a_terminal(cli, args, [password, password])
    assert code == 0, screen
    assert "Admin password: " in screen and "Admin password again: " in screen
    assert password not in screen, "the typed password was echoed"
    made = json.loads(screen[screen.index("{") : screen.rindex("}") + 1])
    assert _signs_in(cli, made["site_id"], "ops", password)


def test_two_different_passwords_make_nothing(cli: Stack) -> None:
    args = ["site", "create", f"tty-{uuid.uuid4().hex[:6]}", "--admin-username", "ops"]
    code, screen = _on_a_terminal(cli, args, ["pw-first-1234567", "pw-second-123456"])
    assert code == 2, screen
    assert "differ" in screen and "site_id" not in screen


def test_the_admin_password_is_read_from_a_pipe(cli: Stack) -> None:
    password = f"piped-{uuid.uuid4().hex}"
    done = subprocess.run(
        [*CLI, "site", "create", f"pipe-{uuid.uuid4().hex[:6]}", "--admin-username", "ops"],
        env=cli.process_env(),
        cwd=ROOT,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _signs_in(cli, json.loads(done.stdout)["site_id"], "ops", password)
    empty = subprocess.run(
        [*CLI, "site", "create", "nobody", "--admin-username", "ops"],
        env=cli.process_env(),
        cwd=ROOT,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (empty.returncode, empty.stdout) == (2, "")
    assert "no admin password given" in empty.stderr
