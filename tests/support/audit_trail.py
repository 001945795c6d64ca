"""The stored audit trail, reached past its append-only guards, as someone holding the
database's keys could: for tests that tamper with it and expect `audit verify` to notice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from support.stack import Stack


@contextmanager
def unguarded(stack: Stack) -> Iterator[sa.engine.Connection]:
    """The stored trail as someone with the database's keys sees it: the append-only
    triggers set aside for the block, put back after it."""
    engine = stack.engines()["app"]
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
                yield conn
                conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
                return
            kept = conn.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _ in kept:
                conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
            yield conn
            for _, sql in kept:
                conn.execute(sa.text(sql))
    finally:
        engine.dispose()
