"""Chat platforms and bots as clients: scoped site API keys, the platform's own id on a
conversation, who sent a request (a key, for a named agent) and how often its link opened.

Revision ID: a0008_platform
Revises: a0007_brand
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0008_platform"
down_revision = "a0007_brand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys made before scopes had today's rights: conversations.
    op.add_column(
        "site_api_keys",
        sa.Column("scopes", sa.String(200), nullable=False, server_default="conversations"),
    )
    op.add_column("conversations", sa.Column("external_id", sa.String(200), nullable=True))
    # Unique per site; NULLs are distinct in a unique index on SQLite and PostgreSQL alike.
    op.create_index(
        "uq_conversations_site_external_id",
        "conversations",
        ["site_id", "external_id"],
        unique=True,
    )
    op.add_column("form_requests", sa.Column("sent_by_key_id", sa.String(36), nullable=True))
    op.add_column("form_requests", sa.Column("sent_by_name", sa.String(200), nullable=True))
    op.add_column(
        "form_requests",
        sa.Column("opens", sa.Integer, nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("form_requests", "opens")
    op.drop_column("form_requests", "sent_by_name")
    op.drop_column("form_requests", "sent_by_key_id")
    op.drop_index("uq_conversations_site_external_id", table_name="conversations")
    op.drop_column("conversations", "external_id")
    op.drop_column("site_api_keys", "scopes")
