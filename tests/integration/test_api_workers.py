"""`secureforms api --workers N`, for real: N processes answer on the one port, a secure
form goes the whole way through them, a dead one is started again, one SIGTERM to the
command (all docker's init passes on) stops every one of them after its graceful
shutdown, and a bad N is refused as bad usage."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support.flow import Desk, card_values
from support.metrics_files import healthz_by_process
from support.stack import CLI, ROOT, Stack


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, pgrp, ...]; [] once gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def uvicorn_workers(parent: int) -> list[int]:
    """The parent's children that serve (spawned by multiprocessing), not its resource
    tracker."""
    return [
        pid
        for pid in _pids()
        if (fields := _stat(pid))
        and int(fields[1]) == parent
        and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def running_in_group(pgrp: int) -> list[int]:
    """Every process of the group that has not exited (zombies are exited)."""
    return [
        pid
        for pid in _pids()
        if (fields := _stat(pid)) and int(fields[2]) == pgrp and fields[0] != "Z"
    ]


def test_two_api_processes_share_the_port_and_stop_together_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "multiproc"
    with Stack.running(
        "sqlite", "redis", tmp_path / "stack", api=False, PROMETHEUS_MULTIPROC_DIR=str(directory)
    ) as stack:
        stack.start_api(["--workers", "2"])
        api = stack.procs["api"].popen  # the supervisor, leader of a process group of its own
        workers = uvicorn_workers(api.pid)
        assert len(workers) == 2, workers

        def healthz(_: int) -> int:
            return httpx.get(f"{stack.base_url}/healthz", timeout=10).status_code

        # Fresh connections, a few at a time, until each worker has answered some (the
        # kernel picks which one accepts); each counts in its own file, named by its pid.
        sent = 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            while set(healthz_by_process(directory)) != set(workers) and sent < 2000:
                assert list(pool.map(healthz, range(8))) == [200] * 8
                sent += 8
        assert set(healthz_by_process(directory)) == set(workers), f"after {sent} requests"

        # Sessions, one-time keys and the broker are shared: the whole flow, whichever
        # process answers each step.
        desk = Desk.make(stack)
        sent_form = desk.send()
        r = desk.submit(desk.open(sent_form), card_values(cvv="987"))
        assert r.status_code == 202, r.text
        event = desk.wait_submitted(sent_form.request_id)
        revealed = desk.reveal(event["submission_id"], event["retrieve_otk"])
        assert revealed.status_code == 200, revealed.text
        assert revealed.json()["off_the_record"] == {"cvv": "987"}

        # A worker that dies is started again (and answers), the port answered meanwhile.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not set(healthz_by_process(directory)) - set(workers):
            assert time.monotonic() < deadline, "the dead worker was not started again"
            assert healthz(0) == 200
        workers = uvicorn_workers(api.pid)
        assert len(workers) == 2 and api.poll() is None
        assert set(workers) <= set(healthz_by_process(directory))

        os.kill(api.pid, signal.SIGTERM)  # the supervisor alone: it passes it on
        assert api.wait(30) == 0
        deadline = time.monotonic() + 10
        while running_in_group(api.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running_in_group(api.pid) == []  # no worker, no resource tracker left
        log = stack.procs["api"].log_path.read_text()
        for pid in workers:  # each went through its shutdown, not killed
            assert f"Finished server process [{pid}]" in log
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{stack.base_url}/healthz", timeout=5)


def run_api(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREFORMS_")}
    return subprocess.run(
        [*CLI, "api", "--port", "0", *args],
        env=env | {"SECUREFORMS_ENV": "test", **settings},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_number_of_workers_is_bad_usage() -> None:
    done = run_api("--workers", "0")
    assert (done.returncode, done.stdout) == (2, "")
    assert "usage: secureforms api" in done.stderr
    assert "argument --workers: must be from 1 to 64, not 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_keyring_that_will_not_do_stops_the_command_before_any_worker(tmp_path: Path) -> None:
    # Checked once by the supervisor: a worker failing alone would be started again and
    # again, a traceback each time.
    keyring = tmp_path / "keyring.json"
    keyring.write_text("not a keyring")
    keyring.chmod(0o600)
    done = run_api(
        "--workers", "2", SECUREFORMS_DATA_DIR=str(tmp_path), SECUREFORMS_KEYRING=str(keyring)
    )
    assert done.returncode == 1
    assert f"secureforms: keyring file {keyring} is unreadable" in done.stderr
    assert "Started server process" not in done.stderr and "Traceback" not in done.stderr
