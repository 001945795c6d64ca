"""Agent notifications: one Redis stream per agent, read by long-poll or SSE.

Events never carry a submitted value. Some carry a one-time key (the retrieve key of
`secure_form.submitted`, the visitor's link in `chat.secure_form`): a stream outlives a
key, so such fields are *held* apart from the stream in a key of their own that expires
when the one-time key does (PXAT, the same instant). The entry names its held key;
readers put the fields back while it lives, so the events look as they did to the pages
that read them, and once the one-time key is dead nothing in Redis holds it.

What a stream keeps is what its readers need (`Keep`): an agent's, the last half hour
(`REPLAY_WINDOW_S`); a conversation's visitor stream, its transcript.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline

from core.runtime import Runtime

MAX_EVENTS_PER_AGENT = 1000  # any stream's cap, whatever its age
READ_TIMEOUT_S = 60.0

# How far back an agent's stream reaches: the longest gap a reader resumes across (SSE's
# Last-Event-ID, a long poll's `after`). A page's EventSource comes back within seconds
# (`retry: 2000`), a long poll within its 30 s wait, a restarted api's readers as soon as
# it answers. A reader away for longer than a session may idle (15 minutes at most,
# core.policies.MAX_IDLE_TIMEOUT_S) is signed out, and its new page starts from the
# database and the stream's newest id (core.workspace), not from the stream; twice that
# covers a reader whose session other requests kept alive while its stream was down.
# It outlasts the longest retrieve key (10 minutes), so while a held key lives its entry
# is still in the stream (unless MAX_EVENTS_PER_AGENT newer ones pushed it out; the held
# key then still dies with its one-time key). Older news is the API's to answer: a
# request's status, POST /api/v1/submissions/{id}/retrieve-otk.
REPLAY_WINDOW_S = 30 * 60


@dataclass(frozen=True)
class Keep:
    """What a stream keeps: entries younger than `window_s` (None: any age), at most
    MAX_EVENTS_PER_AGENT of them, and the stream itself for `idle_s` after its last event.
    Trimming is approximate (`~`): whole nodes of older entries go, never a newer entry."""

    window_s: int | None
    idle_s: int


AGENT_STREAM = Keep(window_s=REPLAY_WINDOW_S, idle_s=REPLAY_WINDOW_S)
# A conversation's visitor stream is its transcript, shown from the start on every load
# of the chat window (core.chat.chat_state): never trimmed by age.
TRANSCRIPT = Keep(window_s=None, idle_s=24 * 3600)

# How long a submission's "notified" mark outlives its notification: as long as the same
# tokenize task may still run again and reach _ONCE.
# - A redelivery (its worker died, or lost the broker, between notifying and acking):
#   Redis as broker restores a message unacked for the visibility timeout, counted from
#   its delivery (so from before the notification), at its next restore sweep (every 10 s
#   at most, configs/celery.py) and to the head of its queue; RabbitMQ requeues it as
#   soon as the consumer's connection is gone, sooner still.
# - A retry is a new message, so it follows an attempt that raised; one that raised after
#   notifying is one whose reply was lost (Redis went away as the script ran). A batch
#   hands its submissions to tokenize_one at once, whose retries fail before reaching
#   _ONCE while Redis is away and come each at most retry_backoff_max (30 s) after the
#   last, max_retries (20) times (workers/tasks.py): the last up to 20 x 30 s after.
# - A margin for the time a retry waits behind other messages and attempts take to run.
# Every run that finds the mark renews it, so a redelivery of a redelivery is covered
# from its own run. A run later than that would notify a second time: a second event
# and retrieve key for the same submission and agent; nothing is stored twice or shown.
RESTORE_SWEEP_S = 10
RETRY_SPAN_S = 20 * 30
NOTIFIED_MARGIN_S = 60
# The visibility timeout configs/*.toml ship (broker_visibility_timeout_s), for callers
# of queue_once that do not pass notified_ttl_s(rt).
_SHIPPED_VISIBILITY_TIMEOUT_S = 300

_EVENT_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_UINT64_MAX = 2**64 - 1

_HELD_PREFIX = "sf:held:"
_HELD_FIELD = "_held"  # in an entry's data: the name of its held key, never shown

# Marks the submission as notified and appends the event in one step, so a redelivered
# task can neither notify twice nor lose the notification between the two. The held
# fields (if any) are written in the same step, so no event names a key never written.
# ARGV: type, data, count cap, the mark's TTL, held value ('' for none), held PXAT, the
# stream's TTL, the oldest id it keeps ('' for any).
_ONCE = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return false
end
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[3], ARGV[5], 'PXAT', ARGV[6])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
                      'type', ARGV[1], 'data', ARGV[2])
if ARGV[8] ~= '' then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[8])
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
return id
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
    *,
    keep: Keep = AGENT_STREAM,
) -> str:
    pipe = rt.redis.pipeline(transaction=False)
    at = queue_publish(pipe, site_id, agent_id, event_type, data, held, keep=keep)
    event_id = pipe.execute()[at]
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)


def queue_publish(
    pipe: Pipeline,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    held: Held | None = None,
    *,
    keep: Keep = AGENT_STREAM,
) -> int:
    """publish's commands, queued on `pipe` (several events in one round trip); the
    index in the pipeline's results of the event's id."""
    key = stream_key(site_id, agent_id)
    entry, held_key, held_json = _split(data, held)
    # No MULTI/EXEC: they go in one round trip anyway, and an EXPIRE that missed its
    # XADD would only let the stream live on until the next publish renews it. The held
    # key goes first, so no reader meets an entry whose key is not there yet.
    if held is not None:
        pipe.set(held_key, held_json, pxat=_ms(held.until))
    pipe.xadd(
        key,
        {"type": event_type, "data": json.dumps(entry)},
        maxlen=MAX_EVENTS_PER_AGENT,
        approximate=True,
    )
    at = len(pipe) - 1
    oldest = _oldest_kept(keep)
    if oldest:
        pipe.xtrim(key, minid=oldest, approximate=True)
    pipe.expire(key, keep.idle_s)
    return at


def _oldest_kept(keep: Keep) -> str:
    """The id below which `keep` lets entries go ("" for none). This host's clock: a
    skew of seconds moves a window of minutes by as much."""
    if keep.window_s is None:
        return ""
    return str(max(0, int(time.time() * 1000) - keep.window_s * 1000))


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


def _notified_ttl(visibility_timeout_s: int) -> int:
    return visibility_timeout_s + RESTORE_SWEEP_S + RETRY_SPAN_S + NOTIFIED_MARGIN_S


def notified_ttl_s(rt: Runtime) -> int:
    """How long publish_once / queue_once keep a `once_key` (see RETRY_SPAN_S)."""
    return _notified_ttl(rt.settings.broker_visibility_timeout_s)


def publish_once(
    rt: Runtime,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    once_key: str,
    held: Held | None = None,
    *,
    keep: Keep = AGENT_STREAM,
) -> bool:
    pipe = rt.redis.pipeline(transaction=False)
    queue_once(
        pipe,
        site_id,
        agent_id,
        event_type,
        data,
        once_key,
        held,
        notified_ttl=notified_ttl_s(rt),
        keep=keep,
    )
    return bool(pipe.execute()[-1])


def queue_once(
    pipe: Pipeline,
    site_id: str,
    agent_id: str,
    event_type: str,
    data: Mapping[str, Any],
    once_key: str,
    held: Held | None = None,
    *,
    notified_ttl: int | None = None,
    keep: Keep = AGENT_STREAM,
) -> None:
    """publish_once as the next command of `pipe`: its result (the event id, or None
    when `once_key` was already notified) is that command's. `notified_ttl` should be
    notified_ttl_s(rt); without it, the bound for the shipped visibility timeout."""
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
        notified_ttl or _notified_ttl(_SHIPPED_VISIBILITY_TIMEOUT_S),
        held_json,
        _ms(held.until) if held is not None else 0,
        keep.idle_s,
        _oldest_kept(keep),
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
