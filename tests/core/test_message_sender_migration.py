"""Migration a0004_sender on a database with messages from before it (SQLite and
PostgreSQL): each older line gets the kind the old name rule showed it as, new lines must
name theirs, and it goes back down cleanly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from support.databases import app_migrations


def test_older_messages_get_the_kind_they_were_shown_as(blank_app_db: str) -> None:
    command.upgrade(app_migrations(blank_app_db), "a0003")
    engine = create_engine(blank_app_db)
    now = datetime.now(UTC)
    site, named, unnamed = (str(uuid.uuid4()) for _ in range(3))
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sites (id, name, policies, created_at) VALUES (:i, 's', '{}', :t)"
                ),
                {"i": site, "t": now},
            )
            for cid, visitor in ((named, "Vera"), (unnamed, None)):
                conn.execute(
                    text(
                        "INSERT INTO conversations (id, site_id, status, visitor_name, created_at)"
                        " VALUES (:i, :s, 'active', :v, :t)"
                    ),
                    {"i": cid, "s": site, "v": visitor, "t": now},
                )
            for cid, author in [
                (named, "system"),
                (named, "Vera"),
                (named, "Ada Agent"),
                (unnamed, "Visitor"),
                (unnamed, "Vera"),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO messages (conversation_id, at, author, text) "
                        "VALUES (:c, :t, :a, 'x')"
                    ),
                    {"c": cid, "t": now, "a": author},
                )
        command.upgrade(app_migrations(blank_app_db), "a0004_sender")
        with engine.connect() as conn:
            kinds = conn.execute(text("SELECT author, sender FROM messages ORDER BY id")).all()
        assert [tuple(k) for k in kinds] == [
            ("system", "system"),
            ("Vera", "visitor"),
            ("Ada Agent", "agent"),
            ("Visitor", "visitor"),
            ("Vera", "agent"),  # not this conversation's visitor
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, at, author, text) "
                    "VALUES (:c, :t, 'system', 'no kind given')"
                ),
                {"c": named, "t": now},
            )
        command.downgrade(app_migrations(blank_app_db), "a0003")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 5
            row = conn.execute(text("SELECT * FROM messages")).first()
        assert row is not None and "sender" not in row._mapping
        command.upgrade(app_migrations(blank_app_db), "head")  # and up again
    finally:
        engine.dispose()
