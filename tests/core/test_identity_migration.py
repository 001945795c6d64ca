"""Migration a0002 on a database that already has sites and users (SQLite and PostgreSQL):
every site gets its default profiles and an audit chain, every user the profile of their
role and a password history; and it goes back down cleanly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from support.databases import app_migrations

from configs.database import make_engine
from core import audit
from core.passwords import hash_password


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


def test_a0002_brings_older_sites_and_users_along(blank_app_db: str) -> None:
    command.upgrade(app_migrations(blank_app_db), "a0001")
    engine = make_engine(blank_app_db)
    try:
        ids = _older_data(engine)
        command.upgrade(app_migrations(blank_app_db), "a0002")
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

        command.downgrade(app_migrations(blank_app_db), "a0001")
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
        command.upgrade(app_migrations(blank_app_db), "head")  # and up again
    finally:
        engine.dispose()
