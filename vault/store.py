"""The vault DB: each submission's stored answers, sealed per field, under a UUID."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from vault.db import upgrade
from vault.errors import VaultError
from vault.keyring import Keyring
from vault.schema import submissions
from vault.sealed_fields import open_fields, seal_fields

_PURPOSE = "data"


@dataclass(frozen=True)
class SubmissionRecord:
    id: str
    site_id: str
    conversation_id: str
    agent_id: str
    request_id: str
    form_id: str
    form_version: int
    off_record_fields: tuple[str, ...]
    created_at: datetime
    expires_at: datetime


def migrate_vault_db(url: str) -> None:
    upgrade(url, "vault:migrations", "alembic_version_vault")


class VaultStore:
    def __init__(self, engine: Engine, keyring: Keyring) -> None:
        self.engine = engine
        self._keyring = keyring

    def store(self, record: SubmissionRecord, values: Mapping[str, str]) -> bool:
        """Tokenize and keep; False (and nothing written) when this UUID is already stored.

        A redelivered queue message lands here a second time, so the primary key is the
        idempotency check.
        """
        if not record.site_id:
            raise VaultError()  # a row no scoped read could ever find
        sealed = seal_fields(self._keyring, _PURPOSE, record.site_id, record.id, values)
        row = {
            "id": record.id,
            "site_id": record.site_id,
            "conversation_id": record.conversation_id,
            "agent_id": record.agent_id,
            "request_id": record.request_id,
            "form_id": record.form_id,
            "form_version": record.form_version,
            "sealed_values": sealed,
            "off_record_fields": json.dumps(sorted(record.off_record_fields)),
            "created_at": record.created_at,
            "expires_at": record.expires_at,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(submissions).values(**row))
        except IntegrityError:
            if self.exists(record.site_id, record.id):
                return False
            raise
        return True

    def exists(self, site_id: str, submission_id: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(submissions.c.id).where(
                    submissions.c.id == submission_id, submissions.c.site_id == site_id
                )
            ).first()
        return found is not None

    def get(self, site_id: str, submission_id: str) -> SubmissionRecord:
        """The record without its values; VaultError if absent or of another site."""
        row = self._row(site_id, submission_id)
        return _record(row)

    def detokenize(
        self, site_id: str, submission_id: str
    ) -> tuple[SubmissionRecord, dict[str, str]]:
        row = self._row(site_id, submission_id)
        values = open_fields(self._keyring, _PURPOSE, site_id, submission_id, row.sealed_values)
        return _record(row), values

    def for_conversation(self, site_id: str, conversation_id: str) -> list[SubmissionRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(submissions)
                .where(
                    submissions.c.site_id == site_id,
                    submissions.c.conversation_id == conversation_id,
                )
                .order_by(submissions.c.created_at)
            ).all()
        return [_record(r) for r in rows]

    def erase_conversation(self, site_id: str, conversation_id: str) -> list[str]:
        with self.engine.begin() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(submissions.c.id).where(
                        submissions.c.site_id == site_id,
                        submissions.c.conversation_id == conversation_id,
                    )
                )
            ]
            if ids:
                conn.execute(delete(submissions).where(submissions.c.id.in_(ids)))
        return ids

    def iter_ids(self, site_id: str) -> Iterator[str]:
        with self.engine.connect() as conn:
            for row in conn.execute(
                select(submissions.c.id).where(submissions.c.site_id == site_id)
            ):
                yield row.id

    def _row(self, site_id: str, submission_id: str):  # type: ignore[no-untyped-def]
        if not site_id:
            raise VaultError()  # fail closed: an unscoped lookup is never "any site"
        with self.engine.connect() as conn:
            row = conn.execute(
                select(submissions).where(
                    submissions.c.id == submission_id, submissions.c.site_id == site_id
                )
            ).first()
        if row is None:
            raise VaultError()
        return row


def _record(row) -> SubmissionRecord:  # type: ignore[no-untyped-def]
    return SubmissionRecord(
        id=row.id,
        site_id=row.site_id,
        conversation_id=row.conversation_id,
        agent_id=row.agent_id,
        request_id=row.request_id,
        form_id=row.form_id,
        form_version=row.form_version,
        off_record_fields=tuple(json.loads(row.off_record_fields)),
        created_at=_aware(row.created_at),
        expires_at=_aware(row.expires_at),
    )


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
