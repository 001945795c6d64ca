"""Real stores for the identity and audit tests: a Runtime on an app DB migrated with the real
Alembic scripts (a SQLite file, or a fresh PostgreSQL database) and a Redis database of its
own. Each test makes a site of its own, so nothing needs cleaning between tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import redis_dbs
from support.databases import throwaway_postgres

from configs import load_settings
from core.actors import Actor
from core.policies import update_policies
from core.runtime import Runtime, migrate
from core.sites import create_site

ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    with redis_dbs.locked_db() as db:
        yield db


def _runtime(data_dir: Path, app_url: str, redis_db: int) -> Runtime:
    settings = load_settings(
        {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(data_dir),
            "SECUREFORMS_APP_DATABASE_URL": app_url,
            "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{data_dir}/vault.sqlite3",
            "SECUREFORMS_REDIS_URL": redis_dbs.url(redis_db),
        }
    )
    migrate(settings)
    rt = Runtime.from_settings(settings)
    rt.redis.flushdb()
    return rt


@pytest.fixture(scope="session")
def sqlite_rt(tmp_path_factory: pytest.TempPathFactory, redis_db: int) -> Iterator[Runtime]:
    data_dir = tmp_path_factory.mktemp("identity-sqlite")
    rt = _runtime(data_dir, f"sqlite:///{data_dir}/app.sqlite3", redis_db)
    yield rt
    rt.redis.flushdb()
    rt.close()


@pytest.fixture(scope="session")
def postgres_rt(tmp_path_factory: pytest.TempPathFactory, redis_db: int) -> Iterator[Runtime]:
    with throwaway_postgres("sf_identity_test") as url:
        rt = _runtime(tmp_path_factory.mktemp("identity-postgres"), url, redis_db)
        try:
            yield rt
        finally:
            rt.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_app_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty app DB (a SQLite file, or a PostgreSQL database), for the
    migration tests to walk up and down."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/app.sqlite3"
        return
    with throwaway_postgres("sf_migration_test") as url:
        yield url


@pytest.fixture
def rt(sqlite_rt: Runtime) -> Runtime:
    return sqlite_rt


@pytest.fixture(params=["sqlite_rt", "postgres_rt"], ids=["sqlite", "postgresql"])
def any_rt(request: pytest.FixtureRequest) -> Runtime:
    """For the tests that must hold on both databases (the audit chain, its guards)."""
    rt: Runtime = request.getfixturevalue(request.param)
    return rt


def _new_site(rt: Runtime, **policies: Any) -> Actor:
    made = create_site(rt, f"site-{secrets.token_hex(4)}", "admin", ADMIN_PASSWORD)
    admin = Actor(site_id=made["site_id"], role="admin", user_id=made["admin_id"])
    if policies:
        update_policies(rt, admin, policies)
    return admin


@pytest.fixture
def new_site() -> Callable[..., Actor]:
    """Makes a fresh site and answers its admin: new_site(rt, **policies)."""
    return _new_site


@pytest.fixture
def own_rt(tmp_path: Path, redis_db: int) -> Iterator[Runtime]:
    """A runtime with a keyring and app DB of its own: rotating and retiring its keys
    touches no other test, and no other test's rows pin its keys."""
    settings = load_settings(
        {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(tmp_path),
            "SECUREFORMS_APP_DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
            "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{tmp_path}/vault.sqlite3",
            "SECUREFORMS_REDIS_URL": redis_dbs.url(redis_db),
        }
    )
    migrate(settings)
    rt = Runtime.from_settings(settings)
    yield rt
    rt.close()
