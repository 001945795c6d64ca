"""Tokenized submissions.

Revision ID: v0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_submissions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("form_id", sa.String(36), nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("sealed_values", sa.LargeBinary, nullable=False),
        sa.Column("off_record_fields", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_vault_submissions_site_id", "vault_submissions", ["site_id"])
    op.create_index(
        "ix_vault_submissions_conversation_id", "vault_submissions", ["conversation_id"]
    )
    op.create_index("ix_vault_submissions_expires_at", "vault_submissions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("vault_submissions")
