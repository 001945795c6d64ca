"""Event contracts between the api and the workers: versioned, sealed, value-free outside.

The broker carries only `(submission_id, sealed)`: the submission id in the clear (for
idempotency and tracing) and everything else, values included, inside an AES-GCM
envelope under the event key, with the id bound as associated data.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from vault import Cipher, VaultError
from vault.aad import bind

SUBMISSION_EVENT_VERSION = 1


@dataclass(frozen=True)
class SubmissionEvent:
    submission_id: str
    request_id: str
    site_id: str
    conversation_id: str
    agent_id: str
    form_id: str
    form_version: int
    form_title: str
    values: dict[str, str]
    off_record: dict[str, str]
    off_record_ttl_ms: int
    retention_days: int
    submitted_at: datetime
    version: int = SUBMISSION_EVENT_VERSION

    def __repr__(self) -> str:  # never print values, even by accident
        return f"SubmissionEvent(v{self.version}, submission_id={self.submission_id!r})"

    @classmethod
    def from_draft(cls, draft: Any) -> SubmissionEvent:
        """Copy the fields of a core SubmissionDraft (duck-typed: producers can't import core)."""
        return cls(**{name: getattr(draft, name) for name in _FIELDS if name != "version"})

    def as_kwargs(self) -> dict[str, Any]:
        # A shallow copy: asdict deep-copies the value dicts, a cost paid per submission
        # for copies nobody mutates.
        return {name: getattr(self, name) for name in _FIELDS if name != "version"}


_FIELDS = tuple(f.name for f in fields(SubmissionEvent))


def _aad(submission_id: str) -> bytes:
    return bind("submission-event", str(SUBMISSION_EVENT_VERSION), submission_id)


def seal_event(keyring: Cipher, event: SubmissionEvent) -> str:
    body = {name: getattr(event, name) for name in _FIELDS}
    body["submitted_at"] = event.submitted_at.isoformat()
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.b64encode(keyring.seal("event", raw, _aad(event.submission_id))).decode()


def open_event(keyring: Cipher, submission_id: str, sealed: str) -> SubmissionEvent:
    """VaultError for anything wrong: tampered, other id, unknown version."""
    try:
        raw = keyring.open("event", base64.b64decode(sealed, validate=True), _aad(submission_id))
        body = json.loads(raw)
        if (
            body.pop("version") != SUBMISSION_EVENT_VERSION
            or body["submission_id"] != submission_id
        ):
            raise VaultError()
        body["submitted_at"] = datetime.fromisoformat(body["submitted_at"])
        return SubmissionEvent(**body)
    except (ValueError, TypeError, KeyError):
        raise VaultError() from None
