"""The migrations and the schema modules say the same thing.

`core/schema.py`, `vault/schema.py` and the Alembic scripts are all written by hand. After
`migrate` (the one the `secureforms migrate` command runs), Alembic's autogenerate compares
each database with the metadata the code queries through, on SQLite and on PostgreSQL, and
must find nothing to change: no table, column, index, constraint or foreign key missing or
extra, no type, nullability or server default different. The test knows no table names, so
a new migration or table is checked as soon as it exists.
"""

from __future__ import annotations

import pprint
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, text
from sqlalchemy.schema import DefaultClause
from support.databases import throwaway_postgres

from configs import Settings, load_settings
from configs.database import make_engine
from core.runtime import migrate
from core.schema import metadata as app_metadata
from vault.schema import keystore_metadata
from vault.schema import metadata as vault_metadata


def _include_name(name: str | None, type_: str, _parents: Any) -> bool:
    # Each Alembic chain keeps its own version table (alembic_version_app, _vault,
    # _keystore): bookkeeping, in no metadata; two chains share the app DB by default.
    return not (type_ == "table" and (name or "").startswith("alembic_version"))


def _compare_type(
    context: MigrationContext,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic's own comparison, but for string types on SQLite.

    SQLite gives VARCHAR(n) and TEXT the same TEXT affinity and never checks a length
    (https://sqlite.org/datatype3.html, 3.1: "SQLite does not impose any length
    restrictions"); a0003 widened the TOTP secret columns on PostgreSQL only rather than
    rebuild the users table for a number SQLite ignores. PostgreSQL, which enforces both,
    still compares them; every other type is compared on both.
    """
    if (
        context.dialect.name == "sqlite"
        and isinstance(inspected_type, String)
        and isinstance(metadata_type, String)
    ):
        return False
    return None  # Alembic's default comparison


def drift(url: str, metadata: MetaData | Sequence[MetaData]) -> list[Any]:
    """What autogenerate would change to bring the database at `url` to `metadata`."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": _compare_type,
                    "compare_server_default": True,
                    "include_name": _include_name,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings naming an app DB and a vault DB (the keystore in the app DB, its default
    place), both just built by `migrate`."""
    data_dir: Path = tmp_path_factory.mktemp(f"drift-{request.param}")

    def _migrated(app_url: str, vault_url: str) -> Settings:
        settings = load_settings(
            {
                "SECUREFORMS_ENV": "test",
                "SECUREFORMS_DATA_DIR": str(data_dir),
                "SECUREFORMS_APP_DATABASE_URL": app_url,
                "SECUREFORMS_VAULT_DATABASE_URL": vault_url,
            }
        )
        assert settings.keystore_database_url == settings.app_database_url
        migrate(settings)
        return settings

    if request.param == "sqlite":
        yield _migrated(f"sqlite:///{data_dir}/app.sqlite3", f"sqlite:///{data_dir}/vault.sqlite3")
        return
    with (
        throwaway_postgres("sf_drift_app") as app_url,
        throwaway_postgres("sf_drift_vault") as vault_url,
    ):
        yield _migrated(app_url, vault_url)


def _assert_no_drift(url: str, metadata: MetaData | Sequence[MetaData]) -> None:
    found = drift(url, metadata)
    assert found == [], "the migrations and the schema module differ:\n" + pprint.pformat(found)


def test_app_db_matches_core_schema_and_keystore(migrated: Settings) -> None:
    _assert_no_drift(migrated.app_database_url, [app_metadata, keystore_metadata])


def test_vault_db_matches_vault_schema(migrated: Settings) -> None:
    _assert_no_drift(migrated.vault_database_url, vault_metadata)


def test_the_comparison_sees_drift(migrated: Settings) -> None:
    """The options above leave the check able to fail: a column added to the metadata, a
    column's type and a server default changed are each reported, on both databases."""
    tweaked = MetaData()
    for table in app_metadata.sorted_tables:
        table.to_metadata(tweaked)
    table = next(t for t in tweaked.sorted_tables if any(isinstance(c.type, String) for c in t.c))
    table.append_column(Column("drifted", Integer, nullable=True))
    column = next(c for c in table.c if isinstance(c.type, String) and not c.primary_key)
    column.type = Integer()
    column.server_default = DefaultClause(text("'x'"))

    def seen(metadata: MetaData) -> set[tuple[str, str, str]]:
        found = drift(migrated.app_database_url, [metadata, keystore_metadata])
        flat = [d for entry in found for d in (entry if isinstance(entry, list) else [entry])]
        # ("add_column", schema, table, Column) and ("modify_…", schema, table, name, …)
        return {(d[0], d[2], d[3] if isinstance(d[3], str) else d[3].name) for d in flat}

    # Against what the untouched metadata reports (nothing, unless the tests above fail).
    assert seen(tweaked) - seen(app_metadata) == {
        ("add_column", table.name, "drifted"),
        ("modify_type", table.name, column.name),
        ("modify_default", table.name, column.name),
    }
