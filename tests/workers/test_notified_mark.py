"""The worker's "notified" mark (core.notifications) lasts as long as its task can run
again: the bound is built from the broker's restore sweep and the tokenize task's retries,
so it must change when they do."""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType

from support.flow import Desk
from support.queued import submit

from configs.celery import celery_config
from core import notifications
from core.runtime import Runtime


def test_the_bound_covers_every_retry_and_a_restore_sweep(tasks: ModuleType) -> None:
    retrying = [
        task
        for name, task in tasks.app.tasks.items()
        if name.startswith("secureforms.tokenize") and getattr(task, "autoretry_for", ())
    ]
    assert retrying
    for task in retrying:
        assert task.max_retries * task.retry_backoff_max <= notifications.RETRY_SPAN_S
    redis_broker = replace(
        tasks.settings, broker_url="redis://127.0.0.1:6379/0", broker_visibility_timeout_s=3600
    )
    options = celery_config(redis_broker)["broker_transport_options"]
    sweep = options["unacked_restore_interval"] * options.get("unacked_restore_throttle", 1)
    assert sweep <= notifications.RESTORE_SWEEP_S


def test_a_stored_submission_is_marked_for_the_bound_and_a_redelivery_notifies_once(
    tasks: ModuleType, rt: Runtime, desk: Desk
) -> None:
    _, submission_id, sealed = submit(desk, card="4000056655665556")
    tasks.tokenize_one.run(submission_id, sealed)
    mark = f"sf:notified:{submission_id}"
    assert rt.redis.ttl(mark) >= notifications.notified_ttl_s(rt) - 1
    assert rt.redis.ttl(mark) < 3600  # not the day it used to be

    rt.redis.expire(mark, 3)  # late in the window, the message comes back
    tasks.tokenize_one.run(submission_id, sealed)
    assert rt.redis.ttl(mark) >= notifications.notified_ttl_s(rt) - 1
    with desk.client() as c:
        r = c.get("/api/v1/agent/events", params={"after": "0", "wait": 0}, headers=desk.agent)
    notices = [e for e in r.json()["events"] if e["type"] == "secure_form.submitted"]
    assert [e["data"]["submission_id"] for e in notices] == [submission_id]
