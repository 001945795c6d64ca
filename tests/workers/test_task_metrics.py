"""What the worker's tasks count (workers.metrics), run as functions on real stores: a
stored submission and its submit-to-stored time, a redelivery that changes nothing, an
event that does not open, and the purge's rows and shredded keys."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.engine import Engine
from support.flow import Desk
from support.queued import submit

from core.clock import utcnow
from vault.schema import submissions

CARD = "4000056655665556"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_stored_submission_and_its_redelivery_are_counted_apart(
    tasks: ModuleType, desk: Desk
) -> None:
    _, submission_id, sealed = submit(desk, card=CARD)
    stored = value("secureforms_worker_submissions_stored_total")
    duplicate = value("secureforms_worker_submissions_duplicate_total")
    timed = value("secureforms_worker_submit_to_stored_seconds_count")
    waited = value("secureforms_worker_submit_to_stored_seconds_sum")

    tasks.tokenize_one.run(submission_id, sealed)
    tasks.tokenize_one.run(submission_id, sealed)  # a redelivery

    assert value("secureforms_worker_submissions_stored_total") == stored + 1
    assert value("secureforms_worker_submissions_duplicate_total") == duplicate + 1
    assert value("secureforms_worker_submit_to_stored_seconds_count") == timed + 1
    assert value("secureforms_worker_submit_to_stored_seconds_sum") > waited


def test_an_event_that_does_not_open_is_counted_as_failed(tasks: ModuleType, desk: Desk) -> None:
    _, _, sealed = submit(desk, card=CARD)
    _, other_id, _ = submit(desk, card=CARD)
    before = value("secureforms_worker_submissions_failed_total", reason="unreadable")
    stored = value("secureforms_worker_submissions_stored_total")
    tasks.tokenize_one.run(other_id, sealed)  # sealed for another submission
    assert value("secureforms_worker_submissions_failed_total", reason="unreadable") == before + 1
    assert value("secureforms_worker_submissions_stored_total") == stored


def test_the_purge_counts_the_rows_it_deleted(
    tasks: ModuleType, vault_db: Engine, desk: Desk
) -> None:
    ids = []
    for _ in range(2):
        _, submission_id, sealed = submit(desk, card=CARD)
        tasks.tokenize_one.run(submission_id, sealed)
        ids.append(submission_id)
    with vault_db.begin() as conn:
        conn.execute(
            update(submissions)
            .where(submissions.c.id.in_(ids))
            .values(expires_at=utcnow() - timedelta(days=1))
        )
    purged = value("secureforms_worker_purged_submissions_total")
    shredded = value("secureforms_worker_shredded_keys_total")
    tasks.retention_purge.run()
    assert value("secureforms_worker_purged_submissions_total") == purged + 2
    # This month's key still protects the submissions stored today: none shredded.
    assert value("secureforms_worker_shredded_keys_total") == shredded
