"""Adding an agent to a conversation is idempotent, also when two requests race to do it,
on SQLite and on PostgreSQL (real databases, real threads)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from sqlalchemy import func, select

from core import conversations
from core.actors import Actor
from core.runtime import Runtime
from core.schema import participants
from core.users import create_user

NewSite = Callable[..., Actor]
ROUNDS = 40  # each round is a fresh conversation, so a race lost once is seen


def _agent(rt: Runtime, admin: Actor) -> str:
    name = f"agent-{secrets.token_hex(3)}"
    return create_user(rt, admin.site_id, name, "correct-horse-9", "agent")


def _rows(rt: Runtime, conversation_id: str, agent_id: str) -> int:
    with rt.app_engine.connect() as conn:
        count: int = conn.execute(
            select(func.count())
            .select_from(participants)
            .where(
                participants.c.conversation_id == conversation_id,
                participants.c.agent_id == agent_id,
            )
        ).scalar_one()
    return count


def test_adding_a_participant_twice_leaves_one_row(any_rt: Runtime, new_site: NewSite) -> None:
    admin = new_site(any_rt)
    owner, helper = _agent(any_rt, admin), _agent(any_rt, admin)
    conversation = conversations.create_conversation(any_rt, admin, "Visitor", owner)

    first = conversations.add_participant(any_rt, admin, conversation["id"], helper)
    second = conversations.add_participant(any_rt, admin, conversation["id"], helper)
    conversations.add_participant(any_rt, admin, conversation["id"], owner)  # already in
    conversations.transfer(any_rt, admin, conversation["id"], helper)  # joins nobody new

    assert first["participants"] == second["participants"] == [owner, helper]
    assert conversations.list_participants(any_rt, conversation["id"]) == [owner, helper]
    assert _rows(any_rt, conversation["id"], helper) == 1
    assert _rows(any_rt, conversation["id"], owner) == 1


def _race(rt: Runtime, admin: Actor, conversation_id: str, agent_id: str) -> list[BaseException]:
    """Two threads add the same agent at the same moment; what either of them raised."""
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def add() -> None:
        start.wait()
        try:
            conversations.add_participant(rt, admin, conversation_id, agent_id)
        except BaseException as exc:  # handed to the test, which names it
            failures.append(exc)

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_two_threads_adding_the_same_participant_leave_one_row(
    any_rt: Runtime, new_site: NewSite
) -> None:
    admin = new_site(any_rt)
    owner, helper = _agent(any_rt, admin), _agent(any_rt, admin)
    for _ in range(ROUNDS):
        conversation_id = conversations.create_conversation(any_rt, admin, "Visitor", owner)["id"]

        assert _race(any_rt, admin, conversation_id, helper) == []
        assert _rows(any_rt, conversation_id, helper) == 1
