"""A site's Chatwoot: its settings (token and webhook secret sealed), and the kind of a
webhooks row, so the row that carries Chatwoot's messages through the outbox is never
listed or managed as a webhook (core.chatwoot).

Revision ID: a0011_chatwoot
Revises: a0010_lang
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0011_chatwoot"
down_revision = "a0010_lang"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="webhook")
        )
    op.create_table(
        "chatwoot_integrations",
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("webhook_id", sa.String(36), sa.ForeignKey("webhooks.id"), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("inbox_ids", sa.Text, nullable=True),
        sa.Column("webhook_secret", sa.Text, nullable=True),
        sa.Column("agents", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chatwoot_integrations")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("kind")
