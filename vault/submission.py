"""A submission: the one shape a visitor's checked answers take from the api to the vault.

Core builds it (validated, split into stored and off-the-record answers), producers seal
it into the queue's event and open it again, the worker stores it. It lives here, in the
cardholder-data zone, because it is cardholder data, and because this is the one room
that both core and producers may import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Submission:
    submission_id: str
    request_id: str
    site_id: str
    conversation_id: str
    agent_id: str
    form_id: str
    form_version: int
    form_title: str
    values: dict[str, str]  # the answers the vault stores
    off_record: dict[str, str]  # the answers only Redis holds, for off_record_ttl_ms
    off_record_ttl_ms: int
    retention_days: int
    submitted_at: datetime

    def __repr__(self) -> str:  # values must never reach a log line or a traceback
        return f"Submission(submission_id={self.submission_id!r}, request_id={self.request_id!r})"
