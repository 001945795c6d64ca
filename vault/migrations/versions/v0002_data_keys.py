"""Which per-site, per-month data key seals each submission.

Revision ID: v0002
Revises: v0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0002"
down_revision = "v0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vault_submissions") as batch:
        batch.add_column(sa.Column("data_key_id", sa.String(16), nullable=True))
    op.create_index("ix_vault_submissions_data_key_id", "vault_submissions", ["data_key_id"])


def downgrade() -> None:
    op.drop_index("ix_vault_submissions_data_key_id", "vault_submissions")
    with op.batch_alter_table("vault_submissions") as batch:
        batch.drop_column("data_key_id")
