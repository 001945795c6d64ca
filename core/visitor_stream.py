"""The visitor's side of a conversation, as a notification stream.

The visitor's side is a notification stream of its own, addressed to a pseudo-recipient
next to the agents' streams, so one reader serves both. Everything written to the
transcript goes there too (already masked, by core.conversations); nothing else does,
except the secure form cards of core.chat.
"""

from __future__ import annotations

from typing import Any

from redis.client import Pipeline
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from core import notifications
from core.clock import rfc3339
from core.runtime import Runtime
from core.schema import conversations


def visitor_recipient(conversation_id: str) -> str:
    return f"visitor:{conversation_id}"


def publish_to_visitor(
    rt: Runtime,
    site_id: str,
    conversation_id: str,
    event_type: str,
    data: dict[str, Any],
    held: notifications.Held | None = None,
) -> str:
    recipient = visitor_recipient(conversation_id)
    return notifications.publish(
        rt, site_id, recipient, event_type, data, held, keep=notifications.TRANSCRIPT
    )


_SITE_OF = select(conversations.c.site_id).where(conversations.c.id == bindparam("b_cid"))


def queue_lines_for_visitors(pipe: Pipeline, site_id: str, rows: list[dict[str, Any]]) -> None:
    """Transcript lines (messages rows' values) of one site's conversations, each on its
    visitor's stream: queued on a caller's pipeline, to go with its other commands."""
    for values in rows:
        notifications.queue_publish(
            pipe,
            site_id,
            visitor_recipient(values["conversation_id"]),
            "chat.message",
            _line(values),
            keep=notifications.TRANSCRIPT,
        )


def show_to_visitor(rt: Runtime, conn: Connection, values: dict[str, Any]) -> None:
    """A transcript line (a messages row's values) on the visitor's stream."""
    site_id = conn.execute(_SITE_OF, {"b_cid": values["conversation_id"]}).scalar()
    if site_id is None:
        return
    publish_to_visitor(rt, site_id, values["conversation_id"], "chat.message", _line(values))


def _line(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": rfc3339(values["at"]),
        "author": values["author"],
        "from": values["sender"],
        "text": values["text"],
    }
