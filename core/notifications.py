"""Agent notifications: one Redis stream per agent, read by long-poll or SSE.

Events never carry a submitted value. Some carry a one-time key (the retrieve key of
`secure_form.submitted`, the visitor's link in `chat.secure_form`): a stream lives for a
day, a key for minutes, so such fields are *held* apart from the stream in a key of their
own that expires when the one-time key does (PXAT, the same instant). The entry names
its held key; readers put the fields back while it lives, so the events look as they did
to the pages that read them, and once the one-time key is dead nothing in Redis holds it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline

from core.runtime import Runtime

MAX_EVENTS_PER_AGENT = 1000
READ_TIMEOUT_S = 60.0
_STREAM_TTL_S = 24 * 3600
_EVENT_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_UINT64_MAX = 2**64 - 1

_HELD_PREFIX = "sf:held:"
_HELD_FIELD = "_held"  # in an entry's data: the name of its held key, never shown

# Marks the submission as notified and appends the event in one step, so a redelivered
# task can neither notify twice nor lose the notification between the two. The held
# fields (if any) are written in the same step, so no event names a key never written.
_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then
  if ARGV[5] ~= '' then
    redis.call('SET', KEYS[3], ARGV[5], 'PXAT', ARGV[6])
  end
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
                        'type', ARGV[1], 'data', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return id
end
return false
"""


@dataclass(frozen=True)
class Held:
    """Fields of an event kept out of the stream until ``until`` (a one-time key's end)."""

    fields: Mapping[str, str]
    until: datetime

    def __repr__(self) -> str:
        return f"Held(fields=***, until={self.until!r})"


def stream_key(site_id: str, agent_id: str) -> str:
    return f"sf:events:{site_id}:{agent_id}"


def publish(
    rt: Runtime,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    held: Held | None = None,
) -> str:
    key = stream_key(site_id, agent_id)
    entry, held_key, held_json = _split(data, held)
    # No MULTI/EXEC: they go in one round trip anyway, and an EXPIRE that missed its
    # XADD would only let the stream live on until the next publish renews it. The held
    # key goes first, so no reader meets an entry whose key is not there yet.
    pipe = rt.redis.pipeline(transaction=False)
    if held is not None:
        pipe.set(held_key, held_json, pxat=_ms(held.until))
    pipe.xadd(
        key,
        {"type": event_type, "data": json.dumps(entry)},
        maxlen=MAX_EVENTS_PER_AGENT,
        approximate=True,
    )
    pipe.expire(key, _STREAM_TTL_S)
    event_id = pipe.execute()[-2]
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)


def _split(data: Mapping[str, Any], held: Held | None) -> tuple[dict[str, Any], str, str]:
    """The entry as the stream keeps it, the held key's name and its value ("" for none)."""
    entry = dict(data)
    if held is None:
        return entry, _HELD_PREFIX + "none", ""
    name = uuid.uuid4().hex
    entry[_HELD_FIELD] = name
    return entry, _HELD_PREFIX + name, json.dumps(dict(held.fields))


def _ms(moment: datetime) -> int:
    return max(1, int(moment.timestamp() * 1000))


def publish_once(
    rt: Runtime,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    once_key: str,
    held: Held | None = None,
) -> bool:
    pipe = rt.redis.pipeline(transaction=False)
    queue_once(pipe, site_id, agent_id, event_type, data, once_key, held)
    return bool(pipe.execute()[-1])


def queue_once(
    pipe: Pipeline,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    once_key: str,
    held: Held | None = None,
) -> None:
    """publish_once as the next command of `pipe`: its result (the event id, or None
    when `once_key` was already notified) is that command's."""
    entry, held_key, held_json = _split(data, held)
    pipe.eval(
        _ONCE,
        3,
        stream_key(site_id, agent_id),
        f"sf:notified:{once_key}",
        held_key,
        event_type,
        json.dumps(entry),
        MAX_EVENTS_PER_AGENT,
        _STREAM_TTL_S,
        held_json,
        _ms(held.until) if held is not None else 0,
    )


def valid_event_id(value: str) -> bool:
    if value == "0":
        return True
    match = _EVENT_ID.fullmatch(value)  # fullmatch: "$" would let a trailing newline by
    return match is not None and all(int(part) <= _UINT64_MAX for part in match.groups())


def _decode(items: Any) -> list[dict[str, Any]]:
    """Events from stream entries; each with held fields names its held key in "data"
    until _restore has put the fields back."""
    return [
        {
            "id": event_id.decode(),
            "type": fields[b"type"].decode(),
            "data": json.loads(fields[b"data"]),
        }
        for event_id, fields in items or []
    ]


def _held_keys(events: list[dict[str, Any]]) -> list[str]:
    return [_HELD_PREFIX + e["data"][_HELD_FIELD] for e in events if _HELD_FIELD in e["data"]]


def _restore(events: list[dict[str, Any]], values: list[Any]) -> list[dict[str, Any]]:
    """Put held fields back (``values`` as MGET of _held_keys gave them); an event whose
    key has gone (its one-time key with it) comes without them."""
    found = iter(values)
    for event in events:
        if event["data"].pop(_HELD_FIELD, None) is not None:
            value = next(found)
            if value is not None:
                event["data"].update(json.loads(value))
    return events


def history(rt: Runtime, site_id: str, recipient: str, count: int) -> list[dict[str, Any]]:
    """The newest ``count`` events of a stream, oldest first, with their held fields."""
    entries = rt.redis.xrevrange(stream_key(site_id, recipient), count=count)
    events = _decode(reversed(entries))  # type: ignore[arg-type]
    keys = _held_keys(events)
    return _restore(events, rt.redis.mget(keys) if keys else [])  # type: ignore[arg-type]


class EventReader:
    """Reads an agent's stream without holding a worker thread while it waits."""

    def __init__(self, redis_url: str) -> None:
        # Reads block for up to the long-poll wait: the socket must outlast them.
        self._redis = AsyncRedis.from_url(redis_url, socket_timeout=READ_TIMEOUT_S)

    async def read(
        self, site_id: str, agent_id: str, after: str, wait_s: float, count: int = 100
    ) -> list[dict[str, Any]]:
        block = int(wait_s * 1000) if wait_s > 0 else None
        entries: Any = await self._redis.xread(
            {stream_key(site_id, agent_id): after or "0"}, count=count, block=block
        )
        events = [event for _stream, items in entries or [] for event in _decode(items)]
        keys = _held_keys(events)
        return _restore(events, await self._redis.mget(keys) if keys else [])

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()
