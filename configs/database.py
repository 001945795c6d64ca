"""The SQL databases' plumbing, shared by the app DB (core) and the vault and keystore DBs
(vault): engines, Alembic runs, and the one portable "insert unless present".

Both SQLite and PostgreSQL are supported, chosen by URL alone. This module knows nothing of
the project's tables: each caller hands in its own Alembic scripts and version table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url


def _ensure_sqlite_folder(url: str) -> bool:
    """True for SQLite URLs, after making sure the file's folder exists."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return True


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings every DB needs: SQLite in WAL with a busy timeout."""
    if _ensure_sqlite_folder(url):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # The api runs core in a 40-thread pool: a smaller pool would open and close a
    # PostgreSQL connection (~4 ms of server CPU) for many requests under load.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 30)
    return create_engine(url, **kwargs)


def alembic_config(url: str, script_location: str, version_table: str) -> Config:
    """Alembic's configuration for one DB: its own scripts and its own version table, so that
    two chains (the app's and the keystore's, by default) can share one database."""
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser escapes
    config.attributes["version_table"] = version_table
    return config


def upgrade(url: str, script_location: str, version_table: str) -> None:
    """Run one DB's Alembic scripts up to `head`."""
    _ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url, script_location, version_table), "head")


def insert_unless_present(conn: Connection, table: Table, values: Mapping[str, Any]) -> None:
    """INSERT a row, or nothing if it would repeat a primary key or unique value.

    One statement (`ON CONFLICT DO NOTHING`), so two callers racing to add the same row both
    succeed and one row results; a select-then-insert would fail one of them on the key.
    """
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(postgresql.insert(table).values(dict(values)).on_conflict_do_nothing())
    elif name == "sqlite":
        conn.execute(sqlite.insert(table).values(dict(values)).on_conflict_do_nothing())
    else:  # only the two supported databases have been checked to mean the same by it
        raise ValueError(f"unsupported database dialect: {name}")
