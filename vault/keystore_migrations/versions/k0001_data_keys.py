"""Per-site, per-month data keys.

Revision ID: k0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "k0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_data_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=True),
        sa.Column("wrapping_key_id", sa.String(16), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_vault_data_keys_site_id", "vault_data_keys", ["site_id"])


def downgrade() -> None:
    op.drop_table("vault_data_keys")
