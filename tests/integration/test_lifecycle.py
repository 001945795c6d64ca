"""Data leaving as reliably as it arrives: close, transfer, erasure, purge, beat and keys,
against the real api, worker and beat processes."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from support.flow import Desk, card_values
from support.stack import CLI, ROOT, Stack


def _submitted(desk: Desk, **values: str) -> dict[str, str]:
    sent = desk.send()
    assert desk.submit(desk.open(sent), card_values(**values)).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    return {**event, "conversation_id": sent.conversation_id}


def _vault_rows(stack: Stack) -> int:
    engines = stack.engines()
    try:
        with engines["vault"].connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM vault_submissions")).scalar_one())
    finally:
        for engine in engines.values():
            engine.dispose()


def _offrecord_keys(stack: Stack, submission_id: str) -> list[bytes]:
    redis = stack.redis_clients()[0]
    return list(redis.scan_iter(match=f"sf:offrec:*:{submission_id}"))


def test_closing_revokes_every_key_and_drops_off_the_record_answers_at_once(stack: Stack) -> None:
    desk = Desk.make(stack)
    event = _submitted(desk)
    cid = event["conversation_id"]
    unopened = desk.send(cid)
    opened = desk.send(cid)
    submit_otk = desk.open(opened)
    assert _offrecord_keys(stack, event["submission_id"])

    with desk.client() as c:
        assert c.post(f"/api/v1/conversations/{cid}/close", headers=desk.agent).status_code == 200
        assert c.post("/api/v1/visitor/open", json={"otk": unopened.otk}).status_code == 410
        late = c.post("/api/v1/visitor/submit", json={"otk": submit_otk, "values": card_values()})
        assert late.status_code == 410
        reveal = desk.reveal(event["submission_id"], event["retrieve_otk"])
        assert reveal.status_code == 409 and reveal.json()["error"] == "conversation_closed"
    assert _offrecord_keys(stack, event["submission_id"]) == []
    redis = stack.redis_clients()[0]
    assert redis.scard(f"sf:otk-group:conversation:{cid}") == 0


def test_a_transfer_takes_access_from_the_sender_at_once(stack: Stack) -> None:
    desk = Desk.make(stack)
    event = _submitted(desk)
    other_id, other = stack.new_agent(desk.admin)
    with desk.client() as c:
        moved = c.post(
            f"/api/v1/conversations/{event['conversation_id']}/transfer",
            headers=desk.agent,
            json={"agent_id": other_id},
        )
        assert moved.status_code == 200
    assert desk.reveal(event["submission_id"], event["retrieve_otk"]).status_code == 403
    assert desk.reveal(event["submission_id"], event["retrieve_otk"], other).status_code == 403
    # the sender's retrieve key is gone, not merely refused
    redis = stack.redis_clients()[0]
    assert redis.scard(f"sf:otk-group:conversation-retrieve:{event['conversation_id']}") == 0


def test_erasure_on_request_by_api_and_cli(stack: Stack) -> None:
    desk = Desk.make(stack)
    first = _submitted(desk)
    second = _submitted(desk)
    before = _vault_rows(stack)
    with desk.client() as c:
        denied = c.delete(
            f"/api/v1/conversations/{first['conversation_id']}/secure-forms", headers=desk.agent
        )
        assert denied.status_code == 403
        erased = c.delete(
            f"/api/v1/conversations/{first['conversation_id']}/secure-forms", headers=desk.admin
        )
        assert erased.status_code == 200 and erased.json() == {"erased": 1}
        fresh = c.post(
            f"/api/v1/submissions/{first['submission_id']}/retrieve-otk", headers=desk.agent
        )
        assert fresh.status_code == 404
    out = stack.cli("erase", "--conversation", second["conversation_id"])
    assert json.loads(out.stdout) == {"conversation_id": second["conversation_id"], "erased": 1}
    assert _vault_rows(stack) == before - 2
    assert _offrecord_keys(stack, second["submission_id"]) == []
    missing = stack.cli("erase", "--conversation", "no-such-conversation", check=False)
    assert missing.returncode == 2 and "no conversation" in missing.stderr


def test_purge_as_of_keeps_the_day_before_and_removes_the_day_after(
    private_stack: Stack,
) -> None:
    # A stack of its own: purging as of next year would empty a shared one.
    stack = private_stack
    stack.start()
    desk = Desk.make(stack)
    event = _submitted(desk)
    stored_at = datetime.now(UTC)
    # the site default is 395 days
    day_before = (stored_at + timedelta(days=394)).isoformat()
    day_after = (stored_at + timedelta(days=396)).isoformat()
    dry = json.loads(stack.cli("purge", "--dry-run", "--as-of", day_after).stdout)
    assert dry["dry_run"] is True and dry["deleted"] >= 1
    rows = _vault_rows(stack)
    assert rows >= 1

    kept = json.loads(stack.cli("purge", "--as-of", day_before).stdout)
    assert kept["deleted"] == 0 and _vault_rows(stack) == rows
    gone = json.loads(stack.cli("purge", "--as-of", day_after).stdout)
    assert gone["deleted"] == rows and _vault_rows(stack) == 0
    assert gone["deleted_by_site"] == {stack.site_id: rows}
    with desk.client() as c:
        fresh = c.post(
            f"/api/v1/submissions/{event['submission_id']}/retrieve-otk", headers=desk.agent
        )
        assert fresh.status_code == 404
    bad = stack.cli("purge", "--as-of", "next tuesday", check=False)
    assert bad.returncode == 2 and "RFC 3339" in bad.stderr


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack.running(
        "sqlite",
        "redis",
        tmp_path,
        api=False,
        worker=False,
        SECUREFORMS_PURGE_INTERVAL_S="2",
        SECUREFORMS_REWRAP_INTERVAL_S="2",
        SECUREFORMS_SWEEP_INTERVAL_S="2",
    ) as stack:
        yield stack


def test_two_beats_produce_one_purge_per_interval(private_stack: Stack) -> None:
    stack = private_stack
    worker = stack.start()
    stack._spawn("beat-a", "beat", "--loglevel", "INFO")
    # a second beat by mistake, with its own schedule file
    env_dir = stack.data_dir / "second-beat"
    env_dir.mkdir()
    stack.env["SECUREFORMS_DATA_DIR"] = str(env_dir)
    stack._spawn("beat-b", "beat", "--loglevel", "INFO")

    def counts() -> tuple[int, int]:
        log = worker.log_path.read_text()
        received = log.count("secureforms.retention_purge[")
        return received, log.count("retention purge done")

    def both_beats_sent_three() -> bool:
        beats = [stack.procs[name].log_path.read_text() for name in ("beat-a", "beat-b")]
        return all(log.count("secureforms.retention_purge") >= 3 for log in beats)

    # Until each beat has sent three, not a fixed 11 s: a loaded machine starts beats late.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (both_beats_sent_three() and counts()[0] >= 6):
        time.sleep(0.2)
    for name in ("beat-a", "beat-b"):
        stack.kill(name)
    log = worker.log_path.read_text()
    received, ran = counts()
    assert received >= 6, log[-2000:]  # both beats sent theirs...
    assert 1 <= ran <= received // 2 + 1  # ...and each 2-second slot purged once


def test_a_purge_killed_midway_leaves_a_consistent_store_that_the_next_run_finishes(
    private_stack: Stack,
) -> None:
    stack = private_stack
    stack.start()
    desk = Desk.make(stack)
    events = [_submitted(desk) for _ in range(3)]
    # multiply the rows cheaply: copies of real rows under new ids (never opened)
    engines = stack.engines()
    with engines["vault"].begin() as conn:
        template = conn.execute(text("SELECT * FROM vault_submissions LIMIT 1")).mappings().one()
        rows = [dict(template, id=f"copy-{i:06d}") for i in range(40_000)]
        conn.execute(
            text(
                "INSERT INTO vault_submissions VALUES (:id, :site_id, :conversation_id, :agent_id,"
                " :request_id, :form_id, :form_version, :sealed_values, :off_record_fields,"
                " :created_at, :expires_at, :data_key_id)"
            ),
            rows,
        )
    for engine in engines.values():
        engine.dispose()
    total = _vault_rows(stack)
    as_of = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    proc = subprocess.Popen(
        [*CLI, "purge", "--as-of", as_of, "--batch", "200"],
        env=stack.process_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and _vault_rows(stack) == total:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    left = _vault_rows(stack)
    assert 0 < left < total
    assert (total - left) % 200 == 0  # whole batches, nothing half-done
    # the lock of the killed purge is still held: a second purge says so and waits
    busy = stack.cli("purge", "--as-of", as_of, check=False)
    assert busy.returncode in (0, 3)
    stack.redis_clients()[0].delete("sf:lock:retention-purge")
    finished = json.loads(stack.cli("purge", "--as-of", as_of).stdout)
    assert finished["deleted"] == left and _vault_rows(stack) == 0
    assert len(events) == 3


def test_rotation_under_three_key_generations_with_reveals_running(private_stack: Stack) -> None:
    stack = private_stack
    stack.start()
    desk = Desk.make(stack)
    generations = []
    failures: list[int] = []
    revealed: list[int] = []  # one entry per reveal done, whatever its outcome
    stop = threading.Event()

    def keep_revealing(submission: dict[str, str]) -> None:
        with desk.client() as c:
            while not stop.is_set():
                otk = c.post(
                    f"/api/v1/submissions/{submission['submission_id']}/retrieve-otk",
                    headers=desk.agent,
                )
                r = desk.reveal(submission["submission_id"], otk.json()["otk"])
                if r.status_code != 200 or r.json()["values"]["card_number"] != "4242424242424242":
                    failures.append(r.status_code)
                revealed.append(r.status_code)

    readers = []
    for _generation in range(3):
        generations.append(_submitted(desk))
        reader = threading.Thread(target=keep_revealing, args=(generations[-1],))
        reader.start()
        readers.append(reader)
        stack.cli("keys", "rotate", "--purpose", "data")
        # Reveals under the new key before the next rotation: a few each, not a fixed 1.5 s.
        done, deadline = len(revealed), time.monotonic() + 60
        while len(revealed) < done + 3 * len(readers) and time.monotonic() < deadline:
            time.sleep(0.05)
    # the worker's re-wrap (queued by `keys rotate`, and by beat) retires unused keys
    stack._spawn("beat", "beat")
    deadline = time.time() + 40
    listing: dict[str, list[dict[str, str]]] = {}
    while time.time() < deadline:
        listing = json.loads(stack.cli("keys", "list").stdout)
        data_states = [k["state"] for k in listing["keyring"] if k["purpose"] == "data"]
        if data_states.count("retired") == 3:
            break
        time.sleep(1)
    stop.set()
    for reader in readers:
        reader.join(30)
    assert failures == []
    data_keys = [k for k in listing["keyring"] if k["purpose"] == "data"]
    assert [k["state"] for k in data_keys].count("primary") == 1
    assert [k["state"] for k in data_keys].count("retired") == 3
    assert all(k["protects"] == "nothing" for k in data_keys if k["state"] == "retired")
    month = datetime.now(UTC).strftime("%Y-%m")
    assert [d["period"] for d in listing["data_keys"]] == [month]
    assert listing["data_keys"][0]["submissions"] == 3
    for submission in generations:
        with desk.client() as c:
            otk = c.post(
                f"/api/v1/submissions/{submission['submission_id']}/retrieve-otk",
                headers=desk.agent,
            ).json()["otk"]
        assert desk.reveal(submission["submission_id"], otk).status_code == 200
    assert func and select  # imported for readers of this file's queries
