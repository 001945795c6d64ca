"""What the notification streams keep, against a real Redis: a submission's "notified" mark
as long as its task can run again, an agent's stream for REPLAY_WINDOW_S, a visitor's
transcript whole; and that a reader resuming within the window misses nothing."""

from __future__ import annotations

import secrets
import time
import tomllib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.run_async import run_async

from core import notifications
from core.clock import utcnow
from core.policies import MAX_IDLE_TIMEOUT_S
from core.runtime import Runtime
from core.visitor_stream import publish_to_visitor, visitor_recipient

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def ids() -> tuple[str, str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def old_entries(rt: Runtime, key: str, count: int, age_s: int) -> None:
    """`count` entries written `age_s` ago (ids are milliseconds since the epoch)."""
    start = int(time.time() * 1000) - age_s * 1000
    pipe = rt.redis.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(key, {"type": "old", "data": "{}"}, id=f"{start + i}-0")
    pipe.execute()


def older_than_window(rt: Runtime, key: str) -> int:
    oldest = int(time.time() * 1000) - notifications.REPLAY_WINDOW_S * 1000
    return len(rt.redis.xrange(key, max=f"({oldest}"))


def read_after(rt: Runtime, site: str, agent: str, after: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        reader = notifications.EventReader(rt.settings.redis_url)
        try:
            return await reader.read(site, agent, after, 0)
        finally:
            await reader.close()

    return run_async(read)


def node_entries(rt: Runtime) -> int:
    """What approximate trimming may leave of older entries: one node's worth."""
    return int(rt.redis.config_get("stream-node-max-entries")["stream-node-max-entries"])


def test_the_notified_mark_lasts_as_long_as_the_task_can_run_again(rt: Runtime) -> None:
    site, agent, once = ids()
    bound = notifications.notified_ttl_s(rt)
    # the visibility timeout, a restore sweep, every retry's backoff, and a margin
    assert bound == rt.settings.broker_visibility_timeout_s + 10 + 20 * 30 + 60
    assert notifications.publish_once(rt, site, agent, "secure_form.submitted", {}, once)
    assert bound - 1 <= rt.redis.ttl(f"sf:notified:{once}") <= bound


def test_a_redelivery_within_the_window_notifies_once_and_renews_the_mark(
    rt: Runtime,
) -> None:
    site, agent, once = ids()
    mark = f"sf:notified:{once}"
    assert notifications.publish_once(rt, site, agent, "secure_form.submitted", {"n": 1}, once)
    rt.redis.expire(mark, 3)  # most of the window gone by
    assert not notifications.publish_once(rt, site, agent, "secure_form.submitted", {"n": 2}, once)
    assert rt.redis.ttl(mark) > 3  # the redelivery's own run starts the window again
    events = notifications.history(rt, site, agent, 10)
    assert [e["data"] for e in events] == [{"n": 1}]


def test_without_a_runtime_queue_once_keeps_the_mark_for_the_shipped_timeout(
    rt: Runtime,
) -> None:
    site, agent, once = ids()
    pipe = rt.redis.pipeline(transaction=False)
    notifications.queue_once(pipe, site, agent, "secure_form.submitted", {}, once)
    assert pipe.execute()[-1]
    shipped = {
        tomllib.loads((CONFIGS / f"{env}.toml").read_text())["broker_visibility_timeout_s"]
        for env in ("production", "development")
    }
    assert shipped == {300}
    assert rt.redis.ttl(f"sf:notified:{once}") > 300 + 20 * 30


@pytest.mark.parametrize("once", [False, True], ids=["publish", "publish_once"])
def test_an_agent_stream_keeps_its_window_and_no_older(rt: Runtime, once: bool) -> None:
    site, agent, once_key = ids()
    key = notifications.stream_key(site, agent)
    old_entries(rt, key, 3 * node_entries(rt), age_s=notifications.REPLAY_WINDOW_S + 60)
    if once:  # the worker's path
        notifications.publish_once(rt, site, agent, "secure_form.submitted", {}, once_key)
    else:
        notifications.publish(rt, site, agent, "secure_form.submitted", {})
    assert older_than_window(rt, key) <= node_entries(rt)
    assert rt.redis.xrevrange(key, count=1)[0][1][b"type"] == b"secure_form.submitted"
    assert 0 < rt.redis.ttl(key) <= notifications.REPLAY_WINDOW_S


def test_a_visitor_stream_keeps_its_whole_transcript(rt: Runtime) -> None:
    site, conversation, _ = ids()
    key = notifications.stream_key(site, visitor_recipient(conversation))
    old_entries(rt, key, 3 * node_entries(rt), age_s=notifications.REPLAY_WINDOW_S + 60)
    publish_to_visitor(rt, site, conversation, "chat.message", {"text": "still here?"})
    assert older_than_window(rt, key) == 3 * node_entries(rt)
    assert rt.redis.ttl(key) > notifications.REPLAY_WINDOW_S


def test_an_agent_reconnecting_within_the_window_replays_what_it_missed(
    rt: Runtime,
) -> None:
    site, agent, once = ids()
    key = notifications.stream_key(site, agent)
    old_entries(rt, key, 3 * node_entries(rt), age_s=notifications.REPLAY_WINDOW_S + 60)
    seen = notifications.publish(rt, site, agent, "secure_form.opened", {"request_id": "r"})
    # the connection drops; meanwhile:
    otk = secrets.token_urlsafe(32)
    held = notifications.Held({"retrieve_otk": otk}, utcnow() + timedelta(seconds=60))
    data = {"request_id": "r"}
    assert notifications.publish_once(rt, site, agent, "secure_form.submitted", data, once, held)
    notifications.publish(rt, site, agent, "chat.message", {"text": "done"})

    missed = read_after(rt, site, agent, seen)
    assert [(e["type"], e["data"]) for e in missed] == [
        ("secure_form.submitted", {"request_id": "r", "retrieve_otk": otk}),
        ("chat.message", {"text": "done"}),
    ]
    # a reader from before the window gets what is left, the same three last
    from_trimmed = read_after(rt, site, agent, "1-0")
    assert [e["type"] for e in from_trimmed][-3:] == [
        "secure_form.opened",
        "secure_form.submitted",
        "chat.message",
    ]


def test_a_held_key_pushed_out_of_its_stream_still_dies_with_its_one_time_key(
    rt: Runtime,
) -> None:
    site, agent, once = ids()
    until = utcnow() + timedelta(seconds=60)
    held = notifications.Held({"retrieve_otk": secrets.token_urlsafe(32)}, until)
    assert notifications.publish_once(rt, site, agent, "secure_form.submitted", {}, once, held)
    key = notifications.stream_key(site, agent)
    [(first_id, first)] = rt.redis.xrange(key)
    held_key = b"sf:held:" + first[b"data"].split(b'"_held": "')[1].split(b'"')[0]
    pipe = rt.redis.pipeline(transaction=False)
    for i in range(notifications.MAX_EVENTS_PER_AGENT + 2 * node_entries(rt)):
        pipe.xadd(key, {"type": "chat.message", "data": f'{{"n": {i}}}'})
    pipe.execute()
    notifications.publish(rt, site, agent, "chat.message", {"n": "last"})

    assert rt.redis.xrange(key, min=first_id, max=first_id) == []  # the entry is gone
    # its key is not: it ends when the one-time key does, as always
    assert rt.redis.pexpiretime(held_key) == int(until.timestamp() * 1000)
    events = notifications.history(rt, site, agent, 5)
    assert events[-1]["data"] == {"n": "last"}


@pytest.mark.parametrize("limit", [MAX_IDLE_TIMEOUT_S, 600])
def test_the_window_outlasts_an_idle_session_and_the_longest_retrieve_key(limit: int) -> None:
    # 600: configs.settings' upper bound for otk_ttl_retrieve_s
    assert limit <= notifications.REPLAY_WINDOW_S
