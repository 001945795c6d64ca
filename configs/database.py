"""The SQL databases' plumbing, shared by the app DB (core) and the vault and keystore DBs
(vault): engines, Alembic runs.

Both SQLite and PostgreSQL are supported, chosen by URL alone. This module knows nothing of
the project's tables: each caller hands in its own Alembic scripts and version table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
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
