"""Fixtures for the vault tests: a keyring, a real Redis DB, SQLite and PostgreSQL vault DBs.

Redis: a database of its own (support.redis_dbs), flushed before and after each test.
PostgreSQL: one fresh database per test session, created on the `postgres` maintenance DB
and dropped at the end; every test starts with an empty table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from support import redis_dbs
from support.databases import throwaway_postgres

from configs.database import make_engine
from vault.keyring import Keyring
from vault.schema import data_keys, submissions
from vault.store import migrate_keystore_db, migrate_vault_db

REDIS_URL_OVERRIDE = os.environ.get("SECUREFORMS_TEST_VAULT_REDIS_URL")


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(generated="test")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database this session holds alone (set SECUREFORMS_TEST_VAULT_REDIS_URL to pin)."""
    if REDIS_URL_OVERRIDE:
        yield REDIS_URL_OVERRIDE
        return
    with redis_dbs.locked_db() as db:
        yield redis_dbs.url(db)


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
    with throwaway_postgres("sf_vault_test") as url:
        migrate_vault_db(url)
        migrate_keystore_db(url)  # unit tests keep data keys beside the data
        yield url


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
