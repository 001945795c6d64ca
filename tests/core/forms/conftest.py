"""An app DB for the catalogue tests: a SQLite file and a fresh PostgreSQL database, both
migrated with the real Alembic scripts. Each test makes a site of its own, so tests never
see each other's forms and nothing needs cleaning between them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from configs.database import make_engine, upgrade
from core.actors import Actor
from core.sites import create_site

PG_ADMIN_URL = os.environ.get(
    "SECUREFORMS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class AppOnly:
    """The part of core.runtime.Runtime the catalogue uses: the app DB."""

    app_engine: Engine


def _migrated(url: str) -> Engine:
    upgrade(url, "core:migrations", "alembic_version_app")
    return make_engine(url)


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("catalogue") / "app.sqlite3"
    engine = _migrated(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_app() -> Iterator[Engine]:
    name = f"sf_catalogue_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    engine = None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        engine = _migrated(url)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite_app", "postgres_app"], ids=["sqlite", "postgresql"])
def rt(request: pytest.FixtureRequest) -> AppOnly:
    return AppOnly(request.getfixturevalue(request.param))


SiteMaker = Callable[..., Actor]


@pytest.fixture
def make_site(rt: AppOnly) -> SiteMaker:
    """A new site (optionally with templates installed); returns its admin."""

    def make(templates: tuple[str, ...] = ()) -> Actor:
        made = create_site(
            rt,  # type: ignore[arg-type]
            f"site-{secrets.token_hex(4)}",
            "admin",
            "admin-password-1",
            templates=templates,
        )
        return Actor(site_id=made["site_id"], role="admin", user_id=made["admin_id"])

    return make


@pytest.fixture
def admin(make_site: SiteMaker) -> Actor:
    return make_site()
