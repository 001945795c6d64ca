"""The submission event: a `vault.Submission` sealed for the queue, versioned, value-free outside.

The broker carries only `(submission_id, sealed)`: the submission id in the clear (for
idempotency and tracing) and everything else, values included, inside an AES-GCM
envelope under the event key, with the id bound as associated data. The shape is
`vault.Submission`'s; this module owns only its wire format and the format's version.
"""

from __future__ import annotations

import base64
import json
from dataclasses import fields
from datetime import datetime

from vault import Cipher, Submission, VaultError
from vault.aad import bind

SUBMISSION_EVENT_VERSION = 1
_FIELDS = tuple(f.name for f in fields(Submission))


def _aad(submission_id: str) -> bytes:
    return bind("submission-event", str(SUBMISSION_EVENT_VERSION), submission_id)


def seal_event(keyring: Cipher, submission: Submission) -> str:
    # Version 1's body: every field in declaration order, then "version" (the order
    # queued messages were written in; opening does not depend on it).
    body = {name: getattr(submission, name) for name in _FIELDS}
    body["submitted_at"] = submission.submitted_at.isoformat()
    body["version"] = SUBMISSION_EVENT_VERSION
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.b64encode(keyring.seal("event", raw, _aad(submission.submission_id))).decode()


def open_event(keyring: Cipher, submission_id: str, sealed: str) -> Submission:
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
        return Submission(**body)
    except (ValueError, TypeError, KeyError):
        raise VaultError() from None
