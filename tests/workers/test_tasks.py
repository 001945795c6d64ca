"""Each task of workers/tasks.py run as a function on real stores: what it writes, what it
tells the agent, and that running it again (a redelivery, a second beat) changes nothing."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from support.databases import throwaway_postgres
from support.flow import Desk
from support.queued import queued_tasks, submit

from core.clock import utcnow
from core.runtime import Runtime
from core.schema import form_requests
from vault.schema import submissions

CARD = "4000056655665556"


def events(desk: Desk, kind: str) -> list[dict[str, Any]]:
    with desk.client() as c:
        r = c.get("/api/v1/agent/events", params={"after": "0", "wait": 0}, headers=desk.agent)
    assert r.status_code == 200, r.text
    return [e["data"] for e in r.json()["events"] if e["type"] == kind]


def stored(vault_db: Engine, submission_id: str) -> int:
    with vault_db.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(submissions.c.id == submission_id)).scalar_one()
        )


def _run_out(rt: Runtime, request_id: str) -> None:
    """The request's keys ran out a moment ago."""
    with rt.app_engine.begin() as conn:
        conn.execute(
            update(form_requests)
            .where(form_requests.c.id == request_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def _past_retention(vault_db: Engine, submission_id: str) -> None:
    with vault_db.begin() as conn:
        conn.execute(
            update(submissions)
            .where(submissions.c.id == submission_id)
            .values(expires_at=utcnow() - timedelta(days=1))
        )


def test_tokenize_stores_once_and_notifies_once(
    tasks: ModuleType, vault_db: Engine, desk: Desk
) -> None:
    request_id, submission_id, sealed = submit(desk, card=CARD, cvv="987")
    assert stored(vault_db, submission_id) == 0  # nothing before the worker

    tasks.tokenize_one.run(submission_id, sealed)
    tasks.tokenize_one.run(submission_id, sealed)  # a redelivery

    assert stored(vault_db, submission_id) == 1
    [notice] = events(desk, "secure_form.submitted")
    assert (notice["request_id"], notice["submission_id"]) == (request_id, submission_id)
    revealed = desk.reveal(submission_id, notice["retrieve_otk"])
    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert body["values"]["card_number"] == CARD
    assert (body["off_record_status"], body["off_the_record"]) == ("available", {"cvv": "987"})
    # After the look, a redelivery brings back neither the CVV nor a second notice.
    tasks.tokenize_one.run(submission_id, sealed)
    assert len(events(desk, "secure_form.submitted")) == 1
    with desk.client() as c:
        again = c.post(f"/api/v1/submissions/{submission_id}/retrieve-otk", headers=desk.agent)
    assert again.status_code == 200, again.text
    second = desk.reveal(submission_id, again.json()["otk"]).json()
    assert (second["off_record_status"], second["off_the_record"]) == ("already_viewed", {})


def test_an_event_that_does_not_open_is_dropped_without_its_content(
    tasks: ModuleType, vault_db: Engine, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    _, submission_id, sealed = submit(desk, card=CARD)
    _, other_id, _ = submit(desk, card=CARD)
    tampered = sealed[:-8] + ("A" if sealed[-8] != "A" else "B") + sealed[-7:]
    with caplog.at_level(logging.INFO):
        tasks.tokenize_one.run(submission_id, tampered)
        tasks.tokenize_one.run(other_id, sealed)  # sealed for another submission
    assert stored(vault_db, submission_id) == stored(vault_db, other_id) == 0
    assert events(desk, "secure_form.submitted") == []
    assert "does not open" in caplog.text
    assert CARD not in caplog.text and sealed not in caplog.text


def test_the_sweep_expires_requests_whose_keys_ran_out_once_per_interval(
    tasks: ModuleType, rt: Runtime, desk: Desk
) -> None:
    late, on_time = desk.send(), desk.send()
    _run_out(rt, late.request_id)
    tasks.sweep_expired_requests.run()

    def status(request_id: str) -> str:
        with desk.client() as c:
            r = c.get(f"/api/v1/secure-forms/{request_id}", headers=desk.agent)
        assert r.status_code == 200, r.text
        return str(r.json()["status"])

    assert (status(late.request_id), status(on_time.request_id)) == ("expired", "sent")
    assert [e["request_id"] for e in events(desk, "secure_form.expired")] == [late.request_id]
    # A second beat in the same interval is a no-op, even with more to do.
    _run_out(rt, on_time.request_id)
    tasks.sweep_expired_requests.run()
    assert [e["request_id"] for e in events(desk, "secure_form.expired")] == [late.request_id]
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            select(form_requests.c.status).where(form_requests.c.id == on_time.request_id)
        ).scalar_one()
    assert row == "sent"


def test_the_retention_purge_deletes_what_is_past_its_time_once_per_interval(
    tasks: ModuleType, vault_db: Engine, desk: Desk
) -> None:
    _, old_id, old_sealed = submit(desk, card=CARD)
    _, young_id, young_sealed = submit(desk, card=CARD)
    tasks.tokenize_one.run(old_id, old_sealed)
    tasks.tokenize_one.run(young_id, young_sealed)
    _past_retention(vault_db, old_id)
    tasks.retention_purge.run()
    assert (stored(vault_db, old_id), stored(vault_db, young_id)) == (0, 1)
    with desk.client() as c:
        gone = c.post(f"/api/v1/submissions/{old_id}/retrieve-otk", headers=desk.agent)
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")

    _past_retention(vault_db, young_id)
    tasks.retention_purge.run()  # the same interval: claimed already
    assert stored(vault_db, young_id) == 1


def test_nothing_a_task_does_is_queued_again(tasks: ModuleType, desk: Desk) -> None:
    _, submission_id, sealed = submit(desk, card=CARD)
    tasks.tokenize_one.run(submission_id, sealed)
    tasks.sweep_expired_requests.run()
    tasks.retention_purge.run()
    assert queued_tasks(desk.stack) == []  # type: ignore[arg-type]


def test_off_record_answers_are_gone_by_the_deadline_the_agent_is_told(
    tasks: ModuleType, desk: Desk
) -> None:
    """The agent's page counts down to `off_record_expires_at` and then says "expired": at
    that moment the store must no longer hand the CVV out (the browser test of the
    refusal clicked in that gap and, now and then, was shown the CVV)."""
    with desk.client() as c:
        before = c.get("/api/v1/site/policies", headers=desk.admin).json()["off_record_ttl_s"]
        assert (
            c.put(
                "/api/v1/site/policies", headers=desk.admin, json={"off_record_ttl_s": 2}
            ).status_code
            == 200
        )
    try:
        _, submission_id, sealed = submit(desk, card=CARD, cvv="987")
        tasks.tokenize_one.run(submission_id, sealed)
    finally:
        with desk.client() as c:
            c.put("/api/v1/site/policies", headers=desk.admin, json={"off_record_ttl_s": before})
    [notice] = events(desk, "secure_form.submitted")
    told = datetime.fromisoformat(notice["off_record_expires_at"]).timestamp()
    time.sleep(max(0.0, told - time.time()))
    revealed = desk.reveal(submission_id, notice["retrieve_otk"]).json()
    assert (revealed["off_record_status"], revealed["off_the_record"]) == ("expired", {})


def test_a_read_only_database_is_retried_not_failed_for_good(tasks: ModuleType) -> None:
    """A vault that turned read-only (a standby, `default_transaction_read_only`) refuses
    the insert with SQLSTATE 25006, which psycopg raises as an InternalError: the task
    retries it like a lost connection instead of failing the submission for good."""
    with throwaway_postgres("sf_read_only") as url:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("CREATE TABLE t (x int)"))
                conn.commit()
                conn.execute(text("SET TRANSACTION READ ONLY"))
                with pytest.raises(DBAPIError) as refused:
                    conn.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            engine.dispose()
    assert tasks._read_only(refused.value)
    assert tasks.StoreReadOnly in tasks.tokenize_one.autoretry_for
    assert not tasks._read_only(DBAPIError("INSERT", {}, ValueError("not a refusal")))
