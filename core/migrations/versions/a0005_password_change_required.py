"""A password an admin chose must be changed at its first sign-in (PCI DSS 8.3.5).

`users.must_change_password` is set when an admin creates a user or resets a password,
and cleared when the user sets one of their own. Existing users keep signing in as they
do: their passwords were chosen before the rule, so nobody is flagged by the upgrade.

Revision ID: a0005
Revises: a0004_sender
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0005"
down_revision = "a0004_sender"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean, nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
