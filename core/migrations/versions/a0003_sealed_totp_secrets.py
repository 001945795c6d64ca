"""TOTP secrets sealed at rest: wider columns, and the plaintext ones already stored sealed.

A sealed value is "sealed:v1:" + base64 of a keyring envelope (about 100 characters), too
long for the VARCHAR(64) of a0002 on PostgreSQL. SQLite does not enforce VARCHAR lengths,
so there the table is left as it is rather than rebuilt.

Sealing needs the keyring the application uses. `secureforms migrate` runs this in the
process whose settings name both this database and that keyring; a caller may also hand a
keyring over as `config.attributes["keyring"]`. When neither is at hand (Alembic run by
other means), plaintext secrets are left for core.mfa, which still accepts them and seals
them at the next log-in or key re-wrap, and a warning says so.

Going down opens every sealed secret again (plaintext is what a0002's code reads); it
refuses, changing nothing, if it has no keyring or a secret won't open.

Revision ID: a0003
Revises: a0002
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from configs import ConfigError, load_settings
from vault import Keyring, KeyringError, VaultError, load_keyring
from vault.aad import bind

revision = "a0003"
down_revision = "a0002"
branch_labels = None
depends_on = None

# Frozen here: how core.mfa sealed a secret when this revision was written.
_PREFIX = "sealed:v1:"
_PURPOSE = "data"
_COLUMNS = ("mfa_secret", "mfa_pending_secret")
_NARROW, _WIDE = sa.String(64), sa.String(255)

log = logging.getLogger("core.migrations")


def _aad(site_id: str, user_id: str, column: str) -> bytes:
    return bind("totp-secret", site_id, user_id, column)


def _keyring(url: str) -> Keyring | None:
    handed: Keyring | None = context.config.attributes.get("keyring")
    if handed is not None:
        return handed
    try:
        settings = load_settings()
    except ConfigError:
        return None
    if settings.app_database_url != url:
        return None  # this process's settings are about another database and its keys
    try:
        return load_keyring(settings.keyring_path, allow_generate=settings.allows_dev_defaults)
    except KeyringError:
        return None


def _rows(conn: sa.Connection) -> list[Any]:
    return list(
        conn.execute(
            sa.text(
                "SELECT id, site_id, mfa_secret, mfa_pending_secret FROM users "
                "WHERE mfa_secret IS NOT NULL OR mfa_pending_secret IS NOT NULL"
            )
        )
    )


_USERS = sa.table("users", sa.column("id"), *(sa.column(c) for c in _COLUMNS))


def _set(conn: sa.Connection, user_id: str, column: str, value: str) -> None:
    conn.execute(sa.update(_USERS).where(_USERS.c.id == user_id).values({column: value}))


def _resize(type_: sa.String, existing: sa.String) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for column in _COLUMNS:
        op.alter_column(
            "users", column, type_=type_, existing_type=existing, existing_nullable=True
        )


def upgrade() -> None:
    _resize(_WIDE, _NARROW)
    conn = op.get_bind()
    plain = [
        (row.id, row.site_id, column, getattr(row, column))
        for row in _rows(conn)
        for column in _COLUMNS
        if getattr(row, column) and not getattr(row, column).startswith(_PREFIX)
    ]
    if not plain:
        return
    keyring = _keyring(context.config.get_main_option("sqlalchemy.url") or "")
    if keyring is None:
        log.warning(
            "%d plaintext TOTP secrets left unsealed (no keyring for this database at hand); "
            "they are sealed at their next log-in or key re-wrap",
            len(plain),
        )
        return
    for user_id, site_id, column, secret in plain:
        envelope = keyring.seal(_PURPOSE, secret.encode(), _aad(site_id, user_id, column))
        _set(conn, user_id, column, _PREFIX + base64.b64encode(envelope).decode())
    log.info("sealed %d plaintext TOTP secrets", len(plain))


def downgrade() -> None:
    conn = op.get_bind()
    sealed = [
        (row.id, row.site_id, column, getattr(row, column))
        for row in _rows(conn)
        for column in _COLUMNS
        if getattr(row, column) and getattr(row, column).startswith(_PREFIX)
    ]
    if sealed:
        keyring = _keyring(context.config.get_main_option("sqlalchemy.url") or "")
        if keyring is None:
            raise RuntimeError(
                "a0003 can't go down: TOTP secrets are sealed and no keyring is at hand"
            )
        opened = []
        for user_id, site_id, column, stored in sealed:
            try:
                envelope = base64.b64decode(stored[len(_PREFIX) :], validate=True)
                secret = keyring.open(_PURPOSE, envelope, _aad(site_id, user_id, column)).decode()
            except (ValueError, VaultError):
                raise RuntimeError(
                    f"a0003 can't go down: the TOTP secret in {column} of user {user_id} "
                    "does not open"
                ) from None
            opened.append((user_id, column, secret))
        for user_id, column, secret in opened:  # all or nothing
            _set(conn, user_id, column, secret)
    _resize(_NARROW, _WIDE)
