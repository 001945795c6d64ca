"""A site's payment processor (sealed settings) and what each forward to it left behind.

Revision ID: a0006
Revises: a0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0006"
down_revision = "a0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_settings",
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("sealed_config", sa.Text, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "payment_forwards",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("processor", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("brand", sa.String(40), nullable=True),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("exp_month", sa.Integer, nullable=True),
        sa.Column("exp_year", sa.Integer, nullable=True),
        sa.Column("payment_intent_id", sa.String(255), nullable=True),
        sa.Column("payment_intent_status", sa.String(40), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_payment_forwards_site_id", "payment_forwards", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_payment_forwards_site_id", table_name="payment_forwards")
    op.drop_table("payment_forwards")
    op.drop_table("payment_settings")
