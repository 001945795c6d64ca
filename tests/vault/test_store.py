"""The vault DB store on SQLite and PostgreSQL: tokenize, detokenize, scoping, erasure."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from configs.database import make_engine
from vault.datakeys import DataKeys
from vault.errors import VaultError
from vault.keyring import Keyring
from vault.schema import submissions
from vault.store import SubmissionRecord, VaultStore, migrate_vault_db

SITE = str(uuid.UUID(int=1))
OTHER_SITE = str(uuid.UUID(int=2))
CONVERSATION = str(uuid.UUID(int=10))
OTHER_CONVERSATION = str(uuid.UUID(int=11))
T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
VALUES = {
    "card_number": "4111111111111111",
    "cardholder": "Wilhelmina Q. Cardholder",
    "expiry": "12/34",
    "billing_address": "1600 Pennsylvania Avenue NW",
}


def _record(
    *, site_id: str = SITE, conversation_id: str = CONVERSATION, minutes: int = 0
) -> SubmissionRecord:
    created = T0 + timedelta(minutes=minutes)
    return SubmissionRecord(
        id=str(uuid.uuid4()),
        site_id=site_id,
        conversation_id=conversation_id,
        agent_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        form_id=str(uuid.uuid4()),
        form_version=3,
        off_record_fields=("security_code", "cvv"),
        created_at=created,
        expires_at=created + timedelta(days=30),
    )


def _expected(record: SubmissionRecord) -> SubmissionRecord:
    return replace(record, off_record_fields=tuple(sorted(record.off_record_fields)))


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(submissions)).scalar_one())


def make_store(engine: Engine, keyring: Keyring) -> VaultStore:
    return VaultStore(engine, keyring, DataKeys(engine, keyring))


@pytest.fixture
def store(vault_engine: Engine, keyring: Keyring) -> VaultStore:
    return make_store(vault_engine, keyring)


def test_migration_creates_the_table_and_is_idempotent(
    vault_db_url: str, vault_engine: Engine
) -> None:
    migrate_vault_db(vault_db_url)
    migrate_vault_db(vault_db_url)
    inspector = inspect(vault_engine)
    assert {"vault_submissions", "alembic_version_vault"} <= set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("vault_submissions")}
    assert columns == {c.name for c in submissions.columns}
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("vault_submissions")}
    assert {("site_id",), ("conversation_id",), ("expires_at",)} <= indexed
    with vault_engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version_vault")).all()
    assert [v[0] for v in versions] == ["v0002"]


def test_migration_creates_the_sqlite_directory(tmp_path: Path) -> None:
    database = tmp_path / "data" / "vault" / "vault.db"
    migrate_vault_db(f"sqlite:///{database}")
    assert database.exists()


def test_store_get_detokenize(store: VaultStore) -> None:
    record = _record()
    assert store.store(record, VALUES) is True
    assert store.exists(SITE, record.id)
    got = store.get(SITE, record.id)
    assert got == _expected(record)
    assert got.created_at.tzinfo is not None and got.expires_at.tzinfo is not None
    detokenized_record, values = store.detokenize(SITE, record.id)
    assert detokenized_record == got
    assert values == VALUES


def test_store_with_no_values(store: VaultStore) -> None:
    record = replace(_record(), off_record_fields=())
    assert store.store(record, {})
    assert store.detokenize(SITE, record.id) == (record, {})


def test_storing_twice_is_idempotent(store: VaultStore, vault_engine: Engine) -> None:
    record = _record()
    assert store.store(record, VALUES) is True
    assert store.store(record, VALUES) is False
    assert store.store(record, {"card_number": "5500000000000004"}) is False
    assert _count(vault_engine) == 1
    assert store.detokenize(SITE, record.id)[1] == VALUES  # the first write stands


def test_concurrent_redeliveries_store_once(store: VaultStore, vault_engine: Engine) -> None:
    record = _record()
    barrier = threading.Barrier(8, timeout=30)
    results: list[object] = [None] * 8

    def deliver(index: int) -> None:
        try:
            barrier.wait()
            results[index] = store.store(record, VALUES)
        except Exception as exc:  # surfaced through `results`
            results[index] = exc

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results, key=repr) == [False] * 7 + [True], results
    assert _count(vault_engine) == 1


def test_another_sites_id_is_refused(store: VaultStore) -> None:
    record = _record()
    store.store(record, VALUES)
    assert not store.exists(OTHER_SITE, record.id)
    with pytest.raises(VaultError):
        store.get(OTHER_SITE, record.id)
    with pytest.raises(VaultError):
        store.detokenize(OTHER_SITE, record.id)


def test_unknown_id_is_refused(store: VaultStore) -> None:
    store.store(_record(), VALUES)
    for unknown in (str(uuid.uuid4()), "", "%", "' OR '1'='1"):
        with pytest.raises(VaultError):
            store.get(SITE, unknown)
        with pytest.raises(VaultError):
            store.detokenize(SITE, unknown)


def test_an_empty_site_id_is_refused(store: VaultStore) -> None:
    record = _record()
    store.store(record, VALUES)
    unscoped = replace(_record(), site_id="")
    with pytest.raises(VaultError):
        store.store(unscoped, VALUES)  # a row no scoped read could ever find
    for submission_id in (record.id, unscoped.id):
        with pytest.raises(VaultError):
            store.get("", submission_id)
        with pytest.raises(VaultError):
            store.detokenize("", submission_id)


def test_the_same_id_under_another_site_does_not_overwrite(store: VaultStore) -> None:
    record = _record()
    store.store(record, VALUES)
    with pytest.raises((IntegrityError, VaultError)):
        store.store(replace(record, site_id=OTHER_SITE), {"card_number": "5500000000000004"})
    assert store.detokenize(SITE, record.id)[1] == VALUES
    with pytest.raises(VaultError):
        store.get(OTHER_SITE, record.id)


def test_sealed_values_moved_to_another_row_do_not_open(
    store: VaultStore, vault_engine: Engine
) -> None:
    first, second = _record(), _record()
    store.store(first, VALUES)
    store.store(second, {"card_number": "5500000000000004"})
    with vault_engine.begin() as conn:
        blob = conn.execute(
            select(submissions.c.sealed_values).where(submissions.c.id == first.id)
        ).scalar_one()
        conn.execute(
            update(submissions).where(submissions.c.id == second.id).values(sealed_values=blob)
        )
    with pytest.raises(VaultError):
        store.detokenize(SITE, second.id)
    assert store.detokenize(SITE, first.id)[1] == VALUES


def test_rows_hold_no_plaintext(store: VaultStore, vault_engine: Engine, vault_db_url: str) -> None:
    records = [_record(minutes=i) for i in range(3)]
    for record in records:
        store.store(record, VALUES)
    needles = [v.encode() for v in VALUES.values()] + [b"4111111111", b"Wilhelmina"]

    with vault_engine.connect() as conn:
        rows = conn.execute(select(submissions)).all()
        if vault_engine.dialect.name == "postgresql":
            as_text = conn.execute(text("SELECT t::text FROM vault_submissions t")).scalars()
            whole_rows = [row.encode() for row in as_text]
        else:
            whole_rows = []
    assert len(rows) == 3
    for row in rows:
        raw = b"".join(
            v if isinstance(v, bytes) else str(v).encode() for v in row._mapping.values()
        )
        sealed = json.loads(row.sealed_values)
        assert set(sealed) == set(VALUES)  # field names only
        decoded = b"".join(base64.b64decode(env) for env in sealed.values())
        for needle in needles:
            assert needle not in raw
            assert needle not in decoded
            assert needle.lower() not in raw.lower()
    for whole in whole_rows:
        for needle in needles:
            assert needle not in whole
            assert needle.hex().encode() not in whole  # bytea is shown in hex

    if vault_db_url.startswith("sqlite:///"):  # the file itself, WAL included
        database = Path(vault_db_url.removeprefix("sqlite:///"))
        paths = list(database.parent.glob(database.name + "*"))
        assert database in paths
        for path in paths:
            content = path.read_bytes()
            for needle in needles:
                assert needle not in content


def test_rotation_rewraps_data_keys_and_keeps_rows_readable(
    vault_engine: Engine, keyring: Keyring
) -> None:
    old = _record()
    make_store(vault_engine, keyring).store(old, VALUES)
    rotated = keyring.rotated("data")
    store = make_store(vault_engine, rotated)
    new = _record()
    store.store(new, {"card_number": "5500000000000004"})
    assert store.detokenize(SITE, old.id)[1] == VALUES
    assert store.detokenize(SITE, new.id)[1] == {"card_number": "5500000000000004"}
    assert store.data_keys.rewrap() == 1  # the month's data key, not the data
    assert store.data_keys.usage_by_wrapping_key() == {rotated.primary("data").id: 1}
    fresh = make_store(vault_engine, rotated.rotated("event"))
    assert fresh.detokenize(SITE, old.id)[1] == VALUES
    with pytest.raises(VaultError):  # the old keyring cannot unwrap the re-wrapped key
        make_store(vault_engine, keyring).detokenize(SITE, new.id)
    with pytest.raises(VaultError):
        make_store(vault_engine, Keyring.generate()).detokenize(SITE, old.id)


def test_for_conversation(store: VaultStore) -> None:
    mine = [_record(minutes=m) for m in (5, 1, 3)]
    other_conversation = _record(conversation_id=OTHER_CONVERSATION)
    other_site = _record(site_id=OTHER_SITE)  # same conversation id, another site
    for record in [*mine, other_conversation, other_site]:
        store.store(record, VALUES)

    found = store.for_conversation(SITE, CONVERSATION)
    assert found == sorted((_expected(r) for r in mine), key=lambda r: r.created_at)
    assert store.for_conversation(SITE, OTHER_CONVERSATION) == [_expected(other_conversation)]
    assert store.for_conversation(OTHER_SITE, CONVERSATION) == [_expected(other_site)]
    assert store.for_conversation(OTHER_SITE, OTHER_CONVERSATION) == []
    assert store.for_conversation("", CONVERSATION) == []
    assert sorted(store.iter_ids(SITE)) == sorted(r.id for r in [*mine, other_conversation])


def test_erase_conversation(store: VaultStore, vault_engine: Engine) -> None:
    mine = [_record(minutes=m) for m in range(3)]
    other_conversation = _record(conversation_id=OTHER_CONVERSATION)
    other_site = _record(site_id=OTHER_SITE)
    for record in [*mine, other_conversation, other_site]:
        store.store(record, VALUES)

    assert store.erase_conversation(OTHER_SITE, OTHER_CONVERSATION) == []
    erased = store.erase_conversation(SITE, CONVERSATION)
    assert sorted(erased) == sorted(r.id for r in mine)
    for record in mine:
        assert not store.exists(SITE, record.id)
        with pytest.raises(VaultError):
            store.detokenize(SITE, record.id)
    assert store.for_conversation(SITE, CONVERSATION) == []
    assert store.erase_conversation(SITE, CONVERSATION) == []
    assert _count(vault_engine) == 2
    assert store.detokenize(SITE, other_conversation.id)[1] == VALUES
    assert store.detokenize(OTHER_SITE, other_site.id)[1] == VALUES
    # an erased id can be stored again (a fresh submission), it is not a tombstone
    assert store.store(mine[0], VALUES) is True


def test_erase_fields_drops_only_those_answers(store: VaultStore) -> None:
    record, other = _record(), _record(minutes=1)
    store.store(record, VALUES)
    store.store(other, VALUES)
    dropped = sorted(VALUES)[:1]
    store.erase_fields(SITE, record.id, dropped)
    kept = {k: v for k, v in VALUES.items() if k not in dropped}
    assert store.detokenize(SITE, record.id)[1] == kept
    assert store.detokenize(SITE, other.id)[1] == VALUES
    # Another site's scope finds nothing to erase.
    with pytest.raises(VaultError):
        store.erase_fields(OTHER_SITE, other.id, dropped)
    assert store.detokenize(SITE, other.id)[1] == VALUES


def test_writable_says_what_a_write_would_meet(store: VaultStore, vault_engine: Engine) -> None:
    assert store.writable()
    if vault_engine.dialect.name != "postgresql":
        return  # SQLite's answer is its file modes, which root (the test machine) ignores
    # A session whose transactions are read-only, as every new one is once the database
    # is set `default_transaction_read_only` (or on a standby).
    read_only = make_engine(
        vault_engine.url.render_as_string(hide_password=False),
        connect_args={"options": "-c default_transaction_read_only=on"},
    )
    try:
        assert not make_store(read_only, Keyring.generate(generated="test")).writable()
    finally:
        read_only.dispose()
