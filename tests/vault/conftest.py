"""Fixtures for the vault tests: a keyring, a real Redis DB, SQLite and PostgreSQL vault DBs.

Redis: a database number of its own (14 unless another test run holds it), flushed before
and after each test. PostgreSQL: one fresh database per test session, created on the `postgres`
maintenance DB and dropped at the end; every test starts with an empty table.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine, make_url

from configs.database import make_engine
from vault.keyring import Keyring
from vault.schema import data_keys, submissions
from vault.store import migrate_keystore_db, migrate_vault_db

REDIS_URL_OVERRIDE = os.environ.get("SECUREFORMS_TEST_VAULT_REDIS_URL")
# The same lock files as tests/support/stack.py, so a stack and these tests (in this run or
# another one on the machine) never share, and flush, one Redis database. 14 first, then
# downwards: stacks take theirs from 4 upwards.
REDIS_DB_PREFERENCE = [14, 15, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4]
PG_ADMIN_URL = os.environ.get(
    "SECUREFORMS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(generated="test")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database this session holds alone (set SECUREFORMS_TEST_VAULT_REDIS_URL to pin)."""
    if REDIS_URL_OVERRIDE:
        yield REDIS_URL_OVERRIDE
        return
    deadline = time.monotonic() + 300
    while True:
        for db in REDIS_DB_PREFERENCE:
            lock = open(f"/tmp/secureforms-test-redis-db-{db}.lock", "w")  # noqa: SIM115
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            try:
                yield f"redis://127.0.0.1:6379/{db}"
            finally:
                lock.close()
            return
        if time.monotonic() > deadline:
            raise RuntimeError("no free Redis database for the vault tests within 300 s")
        time.sleep(0.5)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def postgres_vault_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for this session, migrated once, dropped at the end."""
    name = f"sf_vault_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        migrate_vault_db(url)
        migrate_keystore_db(url)  # unit tests keep data keys beside the data
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def vault_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty vault DB: a fresh SQLite file, or the session's PostgreSQL DB."""
    if request.param == "sqlite":
        sqlite_url = f"sqlite:///{tmp_path / 'vault.db'}"
        migrate_vault_db(sqlite_url)
        migrate_keystore_db(sqlite_url)
        return sqlite_url
    url: str = request.getfixturevalue("postgres_vault_url")
    migrate_vault_db(url)  # already at head: must be a no-op
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(delete(submissions))
            conn.execute(delete(data_keys))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def vault_engine(vault_db_url: str) -> Iterator[Engine]:
    engine = make_engine(vault_db_url)
    try:
        yield engine
    finally:
        engine.dispose()
