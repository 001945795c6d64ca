"""Held event fields (one-time keys) against a real Redis: readers see them while the
one-time key lives; after that neither the stream nor any other key holds them."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import timedelta

from support.run_async import run_async

from core import notifications
from core.clock import utcnow
from core.runtime import Runtime


def everywhere(rt: Runtime, needle: str) -> list[bytes]:
    keys = []
    for key in rt.redis.scan_iter(count=1000):
        kind = rt.redis.type(key)
        value = rt.redis.xrange(key) if kind == b"stream" else rt.redis.dump(key)
        if needle.encode() in repr(value).encode():
            keys.append(key)
    return keys


def read_async(rt: Runtime, site: str, recipient: str) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        reader = notifications.EventReader(rt.settings.redis_url)
        try:
            return await reader.read(site, recipient, "0", 0)
        finally:
            await reader.close()

    return run_async(read)


def test_held_fields_are_read_back_until_the_key_ends_then_gone(rt: Runtime) -> None:
    site, agent, once = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    otk, link = secrets.token_urlsafe(32), "https://x.example/f/" + secrets.token_urlsafe(32)
    until = utcnow() + timedelta(milliseconds=700)
    notifications.publish(
        rt,
        site,
        agent,
        "chat.secure_form",
        {"request_id": "r"},
        notifications.Held({"url": link}, until),
    )
    assert notifications.publish_once(
        rt,
        site,
        agent,
        "secure_form.submitted",
        {"submission_id": "s"},
        once,
        notifications.Held({"retrieve_otk": otk}, until),
    )
    notifications.publish(rt, site, agent, "chat.message", {"text": "plain"})

    expected = [
        {"request_id": "r", "url": link},
        {"submission_id": "s", "retrieve_otk": otk},
        {"text": "plain"},
    ]
    assert [e["data"] for e in notifications.history(rt, site, agent, 10)] == expected
    assert [e["data"] for e in read_async(rt, site, agent)] == expected
    stream = notifications.stream_key(site, agent).encode()
    assert stream not in everywhere(rt, otk) and stream not in everywhere(rt, link)
    assert everywhere(rt, otk) and everywhere(rt, link)  # held apart, for now

    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.1)
    assert everywhere(rt, otk) == [] and everywhere(rt, link) == []
    after = [
        {"request_id": "r"},
        {"submission_id": "s"},
        {"text": "plain"},
    ]
    assert [e["data"] for e in notifications.history(rt, site, agent, 10)] == after
    assert [e["data"] for e in read_async(rt, site, agent)] == after
