"""Retention purge and crypto-shredding at the vault level (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from configs.database import make_engine
from vault import DataKeys, Keyring, SubmissionRecord, VaultError, VaultStore, purge_expired
from vault.schema import data_keys, submissions
from vault.store import migrate_keystore_db, migrate_vault_db

SITE = "site-retention"
VALUES = {"card_number": "4111111111111111", "name": "Retention Canary"}
AS_OF = datetime(2027, 6, 15, 12, 0, tzinfo=UTC)


def _record(created: datetime, expires: datetime, site_id: str = SITE) -> SubmissionRecord:
    return SubmissionRecord(
        id=str(uuid.uuid4()),
        site_id=site_id,
        conversation_id=str(uuid.uuid4()),
        agent_id="agent",
        request_id=str(uuid.uuid4()),
        form_id="form",
        form_version=1,
        off_record_fields=(),
        created_at=created,
        expires_at=expires,
    )


def _store(engine: Engine, keyring: Keyring, keystore: Engine | None = None) -> VaultStore:
    return VaultStore(engine, keyring, DataKeys(keystore or engine, keyring))


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(submissions)).scalar_one())


def test_as_of_purges_exactly_what_is_past_retention(
    vault_engine: Engine, keyring: Keyring
) -> None:
    store = _store(vault_engine, keyring)
    created = AS_OF - timedelta(days=395)
    day_before = _record(created, AS_OF - timedelta(days=1))
    on_the_dot = _record(created, AS_OF)
    day_after = _record(created, AS_OF + timedelta(days=1))
    for record in (day_before, on_the_dot, day_after):
        store.store(record, VALUES)

    dry = purge_expired(store, AS_OF, dry_run=True)
    assert dry.deleted == 2 and dry.dry_run
    assert _count(vault_engine) == 3  # a dry run changes nothing

    result = purge_expired(store, AS_OF)
    assert result.deleted_by_site == {SITE: 2}
    assert _count(vault_engine) == 1
    assert store.detokenize(SITE, day_after.id)[1] == VALUES
    for gone in (day_before, on_the_dot):
        with pytest.raises(VaultError):
            store.detokenize(SITE, gone.id)
    # the month key still protects a live row, so it survives
    assert result.data_keys_destroyed == []


def test_batches_report_progress_and_finish(vault_engine: Engine, keyring: Keyring) -> None:
    store = _store(vault_engine, keyring)
    created = AS_OF - timedelta(days=400)
    for _ in range(23):
        store.store(_record(created, AS_OF - timedelta(hours=1)), VALUES)
    seen: list[tuple[int, int]] = []
    result = purge_expired(store, AS_OF, batch=5, progress=lambda d, t: seen.append((d, t)))
    assert result.deleted == 23
    assert seen[0] == (0, 23) and seen[-1] == (23, 23)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == 1 + 5  # 5+5+5+5+3


def test_an_interrupted_purge_leaves_a_consistent_store_that_the_next_run_finishes(
    vault_engine: Engine, keyring: Keyring
) -> None:
    store = _store(vault_engine, keyring)
    created = AS_OF - timedelta(days=400)
    old = [_record(created, AS_OF - timedelta(days=2)) for _ in range(12)]
    keep = _record(created, AS_OF + timedelta(days=2))
    for record in [*old, keep]:
        store.store(record, VALUES)

    def die_after_first_batch(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt  # stands in for a worker killed mid-purge

    with pytest.raises(KeyboardInterrupt):
        purge_expired(store, AS_OF, batch=4, progress=die_after_first_batch)
    assert _count(vault_engine) == 13 - 4  # whole batches only
    for record in [*old[4:], keep]:
        assert store.detokenize(SITE, record.id)[1] == VALUES

    assert purge_expired(store, AS_OF, batch=4).deleted == 8
    assert _count(vault_engine) == 1


def test_a_month_key_is_shredded_once_its_data_is_gone_but_never_the_current_month(
    vault_engine: Engine, keyring: Keyring
) -> None:
    store = _store(vault_engine, keyring)
    last_year = _record(AS_OF - timedelta(days=400), AS_OF - timedelta(days=5))
    this_month = _record(AS_OF - timedelta(hours=1), AS_OF - timedelta(minutes=1))
    store.store(last_year, VALUES)
    store.store(this_month, VALUES)
    result = purge_expired(store, AS_OF)
    assert result.deleted == 2
    shredded = {(site, period) for _id, site, period in result.data_keys_destroyed}
    assert shredded == {(SITE, (AS_OF - timedelta(days=400)).strftime("%Y-%m"))}
    with vault_engine.connect() as conn:
        states = dict(conn.execute(select(data_keys.c.period, data_keys.c.state)).all())
        wrapped = conn.execute(
            select(data_keys.c.wrapped).where(data_keys.c.state == "destroyed")
        ).scalar()
    assert states[AS_OF.strftime("%Y-%m")] == "active"
    assert wrapped is None  # the key material itself is gone


def test_a_backup_taken_before_the_purge_cannot_be_read_after_it(
    tmp_path: Path, keyring: Keyring
) -> None:
    """The crypto-shredding promise: copy the vault DB, purge, restore the copy, fail."""
    vault_file, keystore_file = tmp_path / "vault.sqlite3", tmp_path / "keystore.sqlite3"
    migrate_vault_db(f"sqlite:///{vault_file}")
    migrate_keystore_db(f"sqlite:///{keystore_file}")
    vault_engine = make_engine(f"sqlite:///{vault_file}")
    keystore = make_engine(f"sqlite:///{keystore_file}")
    store = _store(vault_engine, keyring, keystore)
    old = _record(AS_OF - timedelta(days=400), AS_OF - timedelta(days=5))
    store.store(old, VALUES)
    assert store.detokenize(SITE, old.id)[1] == VALUES

    vault_engine.dispose()  # checkpoint the WAL so the copy holds everything
    backup = tmp_path / "backup.sqlite3"
    with make_engine(f"sqlite:///{vault_file}").connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(vault_file, backup)

    assert purge_expired(store, AS_OF).deleted == 1
    vault_engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{vault_file}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, vault_file)  # the restore

    restored = _store(make_engine(f"sqlite:///{vault_file}"), keyring, keystore)
    assert restored.get(SITE, old.id).id == old.id  # the row is back...
    with pytest.raises(VaultError):  # ...and unreadable, even with a fresh process's cache
        restored.detokenize(SITE, old.id)
    raw = backup.read_bytes()
    assert b"4111111111111111" not in raw and b"Retention Canary" not in raw
