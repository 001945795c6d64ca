"""Sealing and publishing: the only way a submission reaches the workers."""

from __future__ import annotations

from producers.events import SUBMISSION_EVENT_VERSION, open_event, seal_event
from producers.publisher import Publisher, PublishFailed

__all__ = [
    "SUBMISSION_EVENT_VERSION",
    "PublishFailed",
    "Publisher",
    "open_event",
    "seal_event",
]
