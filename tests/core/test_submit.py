"""The visitor's submit use case (core.submit) against a real app DB, vault and Redis.

The queue is the one thing handed in: each test passes a `Publish` that records what it
was given and answers as a broker would (True: confirmed; False: refused).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from support.flow import card_values

from core import conversations
from core.actors import USE_SECURE_FORMS, Actor
from core.errors import InvalidOrExpired, Unavailable, ValidationFailed
from core.form_requests import open_request, request_status, send_form
from core.forms import catalogue
from core.runtime import Runtime
from core.submit import submit_answers
from core.users import create_user
from vault import Submission

NewSite = Callable[..., Actor]
CARD, CVV = "4111111111111111", "737"
GOOD = card_values(CARD, CVV)


class Broker:
    """A `Publish` that keeps what it confirmed and refuses while `down`."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.offered: list[Submission] = []
        self.confirmed: list[Submission] = []

    def __call__(self, submission: Submission) -> bool:
        self.offered.append(submission)
        if self.down:
            return False
        self.confirmed.append(submission)
        return True


def _opened_form(rt: Runtime, new_site: NewSite) -> tuple[Actor, str, str]:
    """An agent, the request id of a form they sent, and the visitor's submit key."""
    admin = new_site(rt)
    name = f"agent-{secrets.token_hex(3)}"
    agent = Actor(
        site_id=admin.site_id,
        role="agent",
        user_id=create_user(rt, admin.site_id, name, "correct-horse-9", "agent"),
        display_name=name,
        permissions=frozenset({USE_SECURE_FORMS}),
    )
    conversation_id = conversations.create_conversation(rt, agent, "Visitor", None)["id"]
    form_id = catalogue.from_template(rt, admin, "payment_card", {})["id"]
    sent = send_form(rt, agent, conversation_id, form_id)
    opened = open_request(rt, sent["otk"])
    return agent, sent["request_id"], opened["submit_otk"]


def test_a_submission_is_published_once_split_into_stored_and_off_record(
    rt: Runtime, new_site: NewSite
) -> None:
    agent, request_id, otk = _opened_form(rt, new_site)
    broker = Broker()

    submit_answers(rt, broker, otk, dict(GOOD))

    assert len(broker.offered) == 1
    submission = broker.confirmed[0]
    assert (submission.site_id, submission.request_id) == (agent.site_id, request_id)
    assert submission.agent_id == agent.user_id
    assert submission.values == {k: v for k, v in GOOD.items() if k != "cvv"}
    assert submission.off_record == {"cvv": CVV}
    assert CARD not in repr(submission) and CVV not in repr(submission)
    # The key is spent: a second submit is refused before anything reaches the queue.
    with pytest.raises(InvalidOrExpired):
        submit_answers(rt, broker, otk, dict(GOOD))
    assert len(broker.offered) == 1


def test_a_refusing_queue_gives_the_key_back_and_the_same_key_submits_later(
    rt: Runtime, new_site: NewSite
) -> None:
    agent, request_id, otk = _opened_form(rt, new_site)
    broker = Broker(down=True)

    with pytest.raises(Unavailable):
        submit_answers(rt, broker, otk, dict(GOOD))

    assert broker.confirmed == [] and len(broker.offered) == 1
    assert request_status(rt, agent, request_id)["status"] == "opened"
    broker.down = False
    submit_answers(rt, broker, otk, dict(GOOD))
    assert len(broker.confirmed) == 1
    # The retry is the same submission (one id), so a message the broker did take after
    # all is stored once by the worker's idempotency, not twice.
    assert broker.confirmed[0].submission_id == broker.offered[0].submission_id


def test_answers_that_need_fixing_publish_nothing_and_leave_the_key_usable(
    rt: Runtime, new_site: NewSite
) -> None:
    _agent, _request_id, otk = _opened_form(rt, new_site)
    broker = Broker()

    with pytest.raises(ValidationFailed) as refused:
        submit_answers(rt, broker, otk, {**GOOD, "card_number": "4111111111111112"})

    assert refused.value.fields is not None and set(refused.value.fields) == {"card_number"}
    assert "4111111111111112" not in str(refused.value.fields)
    assert broker.offered == []
    submit_answers(rt, broker, otk, dict(GOOD))
    assert len(broker.confirmed) == 1


def test_an_unknown_key_publishes_nothing(rt: Runtime) -> None:
    broker = Broker()
    with pytest.raises(InvalidOrExpired):
        submit_answers(rt, broker, secrets.token_urlsafe(32), dict(GOOD))
    assert broker.offered == []
