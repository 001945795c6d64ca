"""Sealing and publishing: the only way a submission reaches the workers."""

from __future__ import annotations

from producers.events import SUBMISSION_EVENT_VERSION, open_event, seal_event
from producers.group_commit import GroupCommit
from producers.publisher import Publisher, PublishFailed
from producers.queue_depth import PUBLISHED_AT_HEADER, QueueCollector

__all__ = [
    "PUBLISHED_AT_HEADER",
    "SUBMISSION_EVENT_VERSION",
    "GroupCommit",
    "PublishFailed",
    "Publisher",
    "QueueCollector",
    "open_event",
    "seal_event",
]
