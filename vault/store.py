"""The vault DB: each submission's stored answers, sealed per field, under a UUID."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from configs.database import upgrade
from vault.datakeys import DataKeys, period_of
from vault.errors import VaultError
from vault.keyfile import KeyringFile
from vault.keyring import Keyring, envelope_key_id
from vault.schema import submissions
from vault.sealed_fields import open_fields, seal_fields

_PURPOSE = "data"
# Built once: the parameters go with each execute, the statement's cache key is kept.
_INSERT = insert(submissions)


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


def migrate_keystore_db(url: str) -> None:
    upgrade(url, "vault:keystore_migrations", "alembic_version_keystore")


class _StoredDataCipher:
    """Opens stored answers: rows sealed under a data key, or (older rows) the keyring."""

    def __init__(self, keyring: Keyring | KeyringFile, data_keys: DataKeys) -> None:
        self._keyring = keyring
        self._data_keys = data_keys

    def seal(self, purpose: str, plaintext: bytes, aad: bytes) -> bytes:
        raise VaultError()

    def open(self, purpose: str, envelope: bytes, aad: bytes) -> bytes:
        if self._keyring.find(envelope_key_id(envelope)) is not None:
            return self._keyring.open(purpose, envelope, aad)
        return self._data_keys.open(purpose, envelope, aad)


class VaultStore:
    def __init__(self, engine: Engine, keyring: Keyring | KeyringFile, data_keys: DataKeys) -> None:
        self.engine = engine
        self.data_keys = data_keys
        self._reader = _StoredDataCipher(keyring, data_keys)

    def store(self, record: SubmissionRecord, values: Mapping[str, str]) -> bool:
        """Tokenize and keep; False (and nothing written) when this UUID is already stored.

        A redelivered queue message lands here a second time, so the primary key is the
        idempotency check.
        """
        return record.id in self.store_many([(record, values)])

    def store_many(self, items: Sequence[tuple[SubmissionRecord, Mapping[str, str]]]) -> set[str]:
        """`store` for several submissions in one transaction: the ids it stored now (the
        others were stored before). One commit for a batch is what lets a worker keep up
        with its broker (benchmarks/README.md)."""
        rows: list[dict[str, Any]] = []
        for record, values in items:
            if not record.site_id:
                raise VaultError()  # a row no scoped read could ever find
            data_key = self.data_keys.for_writing(record.site_id, period_of(record.created_at))
            rows.append(
                {
                    "id": record.id,
                    "site_id": record.site_id,
                    "conversation_id": record.conversation_id,
                    "agent_id": record.agent_id,
                    "request_id": record.request_id,
                    "form_id": record.form_id,
                    "form_version": record.form_version,
                    "sealed_values": seal_fields(
                        data_key, _PURPOSE, record.site_id, record.id, values
                    ),
                    "off_record_fields": json.dumps(sorted(record.off_record_fields)),
                    "data_key_id": data_key.id,
                    "created_at": record.created_at,
                    "expires_at": record.expires_at,
                }
            )
        if not rows:
            return set()
        try:
            with self.engine.begin() as conn:
                # One row: its insert is the check (a duplicate is the rare case). Several:
                # one read for those already stored, since a failed insert would end the
                # transaction for all of them.
                before = self._stored_ids(conn, [r["id"] for r in rows]) if len(rows) > 1 else set()
                new = [row for row in rows if row["id"] not in before]
                if new:
                    conn.execute(_INSERT, new)
        except IntegrityError:
            # Stored since (by a worker given the same message, or before, for one row):
            # one at a time, each kept or found.
            if len(rows) > 1:
                return {record.id for record, values in items if self.store(record, values)}
            if self.exists(items[0][0].site_id, items[0][0].id):
                return set()
            raise
        return {str(row["id"]) for row in new}

    @staticmethod
    def _stored_ids(conn: Connection, ids: list[str]) -> set[str]:
        found = conn.execute(select(submissions.c.id).where(submissions.c.id.in_(ids)))
        return {str(row.id) for row in found}

    def writable(self) -> bool:
        """Would a write commit now? Asked before a submission is accepted, so that a vault
        that turned read-only refuses visitors (503, key kept) instead of queueing work no
        worker can store. Cheap and lock-free: PostgreSQL's own answer for a new transaction
        (read-only by `default_transaction_read_only`, or a standby), SQLite's file modes
        (a probing write would wait on the worker's write lock)."""
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            if not path or path == ":memory:":
                return True
            if os.path.exists(path) and not os.access(path, os.W_OK):
                return False
            # the folder too: SQLite writes its -wal and -shm files beside the database
            return os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)
        with self.engine.connect() as conn:
            return bool(conn.execute(text("SHOW transaction_read_only")).scalar_one() == "off")

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
        values = open_fields(self._reader, _PURPOSE, site_id, submission_id, row.sealed_values)
        return _record(row), values

    def erase_fields(self, site_id: str, submission_id: str, names: Iterable[str]) -> None:
        """Drop some answers of a submission for good (a card handed to a processor).

        The other answers keep their envelopes as they are: each field is sealed on its
        own, bound to its name, so nothing needs opening or sealing again.
        """
        with self.engine.begin() as conn:
            row = self._row(site_id, submission_id, conn=conn)
            sealed = json.loads(row.sealed_values)
            kept = {name: env for name, env in sealed.items() if name not in set(names)}
            conn.execute(
                update(submissions)
                .where(submissions.c.id == submission_id, submissions.c.site_id == site_id)
                .values(
                    sealed_values=json.dumps(kept, separators=(",", ":"), sort_keys=True).encode()
                )
            )

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

    def count_by_data_key(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(submissions.c.data_key_id, func.count())
                .where(submissions.c.data_key_id.is_not(None))
                .group_by(submissions.c.data_key_id)
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def iter_ids(self, site_id: str) -> Iterator[str]:
        with self.engine.connect() as conn:
            for row in conn.execute(
                select(submissions.c.id).where(submissions.c.site_id == site_id)
            ):
                yield row.id

    def _row(self, site_id: str, submission_id: str, conn: Connection | None = None):  # type: ignore[no-untyped-def]
        if not site_id:
            raise VaultError()  # fail closed: an unscoped lookup is never "any site"
        query = select(submissions).where(
            submissions.c.id == submission_id, submissions.c.site_id == site_id
        )
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).first()
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
