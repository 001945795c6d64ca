"""The logs of a real stack (api, worker and beat processes, both broker kinds): every
line is one JSON object (the test environment's `log_format`), and one submission can be
followed from submit to stored to notified by the request id the visitor's client sent."""

from __future__ import annotations

import json
import uuid

import pytest
from support.flow import Desk, card_values
from support.logs import events_of, wait_for_event
from support.stack import Stack

PROCESSES = ("api", "worker", "beat")


def _submit(desk: Desk, headers: dict[str, str]) -> tuple[str, str]:
    """One form sent, opened and submitted with these headers: (form request id, the
    response's X-Request-Id)."""
    sent = desk.send()
    submit_otk = desk.open(sent)
    with desk.client() as c:
        r = c.post(
            "/api/v1/visitor/submit",
            json={"otk": submit_otk, "values": card_values()},
            headers=headers,
        )
    assert r.status_code == 202, r.text
    return sent.request_id, r.headers["x-request-id"]


def test_one_submission_is_followed_from_submit_to_stored_to_notified(stack: Stack) -> None:
    desk = Desk.make(stack)
    ours = f"trace-{uuid.uuid4().hex[:12]}"
    form_request_id, echoed = _submit(desk, {"X-Request-Id": ours})
    assert echoed == ours
    submission_id = desk.wait_submitted(form_request_id)["submission_id"]

    submit = wait_for_event(stack, "request", "api", request_id=ours)
    assert (submit["route"], submit["method"], submit["status"]) == (
        "/api/v1/visitor/submit",
        "POST",
        202,
    )
    stored = wait_for_event(
        stack, "submission stored, agent notified", "worker", submission_id=submission_id
    )
    assert stored["request_id"] == ours
    assert stored["agent_id"] == desk.agent_id
    # A request the id was not sent with gets one of its own, not this one.
    _, other = _submit(desk, {})
    assert other != ours and len(other) == 32
    wait_for_event(stack, "request", "api", request_id=other)


@pytest.mark.parametrize(
    "given",
    ["x" * 65, "has space", 'quote"d', "new\\nline", "card 4242 4242 4242 4242", ""],
)
def test_an_unsafe_request_id_is_replaced(stack: Stack, given: str) -> None:
    with stack.client() as c:
        r = c.get("/healthz", headers={"X-Request-Id": given})
    assert r.status_code == 200
    made = r.headers["x-request-id"]
    assert made != given and len(made) == 32 and int(made, 16) >= 0


def test_every_line_of_api_worker_and_beat_is_a_json_event(stack: Stack) -> None:
    stack._spawn("beat", "beat")
    try:
        wait_for_event(stack, "beat: Starting...", "beat")
    finally:
        stack.kill("beat")
    for process in PROCESSES:
        paths = sorted(stack.data_dir.glob(f"{process}-*.log"))
        assert paths, f"no {process} log"
        for path in paths:
            lines = path.read_text().splitlines()
            for number, line in enumerate(lines, 1):
                where = f"{path.name}:{number}: {line[:200]}"
                try:
                    event = json.loads(line)
                except ValueError:
                    following = "\n".join(lines[number - 1 : number + 30])
                    raise AssertionError(f"not a JSON line, {where}\n{following}") from None
                assert {"event", "level", "logger", "timestamp"} <= set(event), where
    uvicorn = [e for e in events_of(stack, "api") if e["logger"].startswith("uvicorn")]
    assert uvicorn, "uvicorn's own lines are missing from the api's log"
    celery = [e for e in events_of(stack, "worker") if e["logger"].startswith("celery")]
    assert celery, "Celery's own lines are missing from the worker's log"
