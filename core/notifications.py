"""Agent notifications: one Redis stream per agent, read by long-poll or SSE.

Events never carry a submitted value. `secure_form.submitted` carries a retrieve OTK,
which is useless without the sending agent's own session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline

from core.runtime import Runtime

MAX_EVENTS_PER_AGENT = 1000
READ_TIMEOUT_S = 60.0
_STREAM_TTL_S = 24 * 3600
_EVENT_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_UINT64_MAX = 2**64 - 1

# Marks the submission as notified and appends the event in one step, so a redelivered
# task can neither notify twice nor lose the notification between the two.
_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
                        'type', ARGV[1], 'data', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return id
end
return false
"""


def stream_key(site_id: str, agent_id: str) -> str:
    return f"sf:events:{site_id}:{agent_id}"


def publish(
    rt: Runtime, site_id: str, agent_id: str, event_type: str, data: Mapping[str, Any]
) -> str:
    key = stream_key(site_id, agent_id)
    # No MULTI/EXEC: the two go in one round trip anyway, and an EXPIRE that missed its
    # XADD would only let the stream live on until the next publish renews it.
    pipe = rt.redis.pipeline(transaction=False)
    pipe.xadd(
        key,
        {"type": event_type, "data": json.dumps(dict(data))},
        maxlen=MAX_EVENTS_PER_AGENT,
        approximate=True,
    )
    pipe.expire(key, _STREAM_TTL_S)
    event_id, _ = pipe.execute()
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)


def publish_once(
    rt: Runtime,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    once_key: str,
) -> bool:
    pipe = rt.redis.pipeline(transaction=False)
    queue_once(pipe, site_id, agent_id, event_type, data, once_key)
    return bool(pipe.execute()[-1])


def queue_once(
    pipe: Pipeline,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    once_key: str,
) -> None:
    """publish_once as the next command of `pipe`: its result (the event id, or None
    when `once_key` was already notified) is that command's."""
    pipe.eval(
        _ONCE,
        2,
        stream_key(site_id, agent_id),
        f"sf:notified:{once_key}",
        event_type,
        json.dumps(dict(data)),
        MAX_EVENTS_PER_AGENT,
        _STREAM_TTL_S,
    )


def valid_event_id(value: str) -> bool:
    if value == "0":
        return True
    match = _EVENT_ID.fullmatch(value)  # fullmatch: "$" would let a trailing newline by
    return match is not None and all(int(part) <= _UINT64_MAX for part in match.groups())


def _decode(entries: Any) -> list[dict[str, Any]]:
    events = []
    for _stream, items in entries or []:
        for event_id, fields in items:
            events.append(
                {
                    "id": event_id.decode(),
                    "type": fields[b"type"].decode(),
                    "data": json.loads(fields[b"data"]),
                }
            )
    return events


class EventReader:
    """Reads an agent's stream without holding a worker thread while it waits."""

    def __init__(self, redis_url: str) -> None:
        # Reads block for up to the long-poll wait: the socket must outlast them.
        self._redis = AsyncRedis.from_url(redis_url, socket_timeout=READ_TIMEOUT_S)

    async def read(
        self, site_id: str, agent_id: str, after: str, wait_s: float, count: int = 100
    ) -> list[dict[str, Any]]:
        block = int(wait_s * 1000) if wait_s > 0 else None
        entries = await self._redis.xread(
            {stream_key(site_id, agent_id): after or "0"}, count=count, block=block
        )
        return _decode(entries)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()
