"""Migration a0002 on a database that already has sites and users (SQLite and PostgreSQL):
every site gets its default profiles and an audit chain, every user the profile of their
role and a password history; and it goes back down cleanly."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from core import audit
from core.passwords import hash_password
from vault.db import make_engine

PG_ADMIN_URL = os.environ.get(
    "SECUREFORMS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "core:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["version_table"] = "alembic_version_app"
    return config


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/app.sqlite3"
        return
    name = f"sf_migration_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _older_data(engine: Engine) -> dict[str, str]:
    now = datetime.now(UTC)
    ids = {"site": str(uuid.uuid4()), "agent": str(uuid.uuid4()), "manager": str(uuid.uuid4())}
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sites (id, name, policies, created_at) VALUES (:i, 'old', '{}', :t)"),
            {"i": ids["site"], "t": now},
        )
        for role in ("agent", "manager"):
            conn.execute(
                text(
                    "INSERT INTO users (id, site_id, username, password_hash, role, enabled, "
                    "failed_logins, created_at) VALUES (:i, :s, :u, :h, :r, true, 0, :t)"
                ),
                {
                    "i": ids[role],
                    "s": ids["site"],
                    "u": role,
                    "h": hash_password("old-password-1"),
                    "r": role,
                    "t": now,
                },
            )
    return ids


def test_a0002_brings_older_sites_and_users_along(url: str) -> None:
    command.upgrade(_config(url), "a0001")
    engine = make_engine(url)
    try:
        ids = _older_data(engine)
        command.upgrade(_config(url), "a0002")
        with engine.connect() as conn:
            profiles = {
                r.role: (r.id, r.permissions, r.is_default)
                for r in conn.execute(
                    text("SELECT * FROM profiles WHERE site_id = :s"), {"s": ids["site"]}
                )
            }
            assigned = dict(conn.execute(text("SELECT role, profile_id FROM users")).all())
            history = conn.execute(text("SELECT count(*) FROM password_history")).scalar()
            mfa = set(conn.execute(text("SELECT mfa_enabled FROM users")).scalars())
        assert set(profiles) == {"agent", "manager", "admin"}
        assert profiles["agent"][1] == '["secure_forms.use"]' and profiles["manager"][1] == "[]"
        assert all(bool(p[2]) for p in profiles.values())
        assert assigned == {"agent": profiles["agent"][0], "manager": profiles["manager"][0]}
        assert history == 2 and mfa == {False}

        class Rt:
            app_engine = engine

        assert audit.verify(Rt()).ok  # an empty chain with its head
        audit.record(Rt(), site_id=ids["site"], type="test.after_migration")
        (entry,) = audit.list_events(Rt(), ids["site"])
        assert entry["seq"] == 1
        assert audit.verify(Rt()).ok

        command.downgrade(_config(url), "a0001")
        with engine.connect() as conn:
            tables = set(
                conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                        if conn.dialect.name == "sqlite"
                        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                ).scalars()
            )
        assert not tables & {"profiles", "audit_events", "audit_heads", "password_history"}
        command.upgrade(_config(url), "head")  # and up again
    finally:
        engine.dispose()
