"""Identity and accountability: profiles, MFA, password history, the audit trail.

Existing sites get the three default profiles and their users the one of their role;
existing users' current password starts their history; every site gets an audit chain
head. The audit table refuses UPDATE and DELETE (triggers), so nothing, not even a
retention purge, can shorten it.

Revision ID: a0002
Revises: a0001
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_GENESIS = "0" * 64
# Frozen here: what core.profiles seeded when this revision was written.
_DEFAULT_PROFILES = (
    ("Agent", "agent", ["secure_forms.use"]),
    ("Manager", "manager", []),
    ("Administrator", "admin", []),
)

_SQLITE_GUARDS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
)
_PG_GUARDS = (
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("mfa_enabled", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("mfa_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mfa_pending_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mfa_last_step", sa.Integer, nullable=True))
        batch.add_column(sa.Column("password_changed_at", _TS, nullable=True))

    profiles = op.create_table(
        "profiles",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("permissions", sa.Text, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("site_id", "name", name="uq_profiles_site_name"),
    )
    op.create_index("ix_profiles_site_id", "profiles", ["site_id"])
    history = op.create_table(
        "password_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_password_history_user_id", "password_history", ["user_id"])
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("origin", sa.String(64), nullable=True),
        sa.Column("resource", sa.String(500), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("site_id", "seq", name="uq_audit_events_site_seq"),
    )
    op.create_index("ix_audit_events_site_at", "audit_events", ["site_id", "at"])
    heads = op.create_table(
        "audit_heads",
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )

    bind = op.get_bind()
    guards = _PG_GUARDS if bind.dialect.name == "postgresql" else _SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)

    now = datetime.now(UTC)
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("site_id", sa.String),
        sa.column("role", sa.String),
        sa.column("profile_id", sa.String),
        sa.column("password_hash", sa.String),
    )
    sites = sa.table("sites", sa.column("id", sa.String))
    for (site_id,) in bind.execute(sa.select(sites.c.id)).all():
        for name, role, permissions in _DEFAULT_PROFILES:
            profile_id = str(uuid.uuid4())
            bind.execute(
                sa.insert(profiles).values(
                    id=profile_id,
                    site_id=site_id,
                    name=name,
                    role=role,
                    permissions=json.dumps(permissions),
                    is_default=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            bind.execute(
                sa.update(users)
                .where(users.c.site_id == site_id, users.c.role == role)
                .where(users.c.profile_id.is_(None))
                .values(profile_id=profile_id)
            )
        bind.execute(sa.insert(heads).values(site_id=site_id, seq=0, hash=_GENESIS))
    for user_id, password_hash in bind.execute(sa.select(users.c.id, users.c.password_hash)).all():
        bind.execute(
            sa.insert(history).values(user_id=user_id, password_hash=password_hash, created_at=now)
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    for table in ("audit_heads", "audit_events", "recovery_codes", "password_history", "profiles"):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        for column in (
            "password_changed_at",
            "mfa_last_step",
            "mfa_pending_secret",
            "mfa_secret",
            "mfa_enabled",
        ):
            batch.drop_column(column)
