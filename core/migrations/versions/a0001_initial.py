"""Sites, users, site keys, conversations, messages, forms and form requests.

Revision ID: a0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("policies", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("profile_id", sa.String(36), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("site_id", "username", name="uq_users_site_username"),
    )
    op.create_index("ix_users_site_id", "users", ["site_id"])
    op.create_table(
        "site_api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_site_api_keys_site_id", "site_api_keys", ["site_id"])
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("visitor_name", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
    )
    op.create_index("ix_conversations_site_id", "conversations", ["site_id"])
    op.create_table(
        "conversation_participants",
        sa.Column(
            "conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), primary_key=True
        ),
        sa.Column("agent_id", sa.String(36), primary_key=True),
        sa.Column("joined_at", _TS, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False
        ),
        sa.Column("at", _TS, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    op.create_table(
        "forms",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_forms_site_id", "forms", ["site_id"])
    op.create_table(
        "form_versions",
        sa.Column("form_id", sa.String(36), sa.ForeignKey("forms.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "form_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column(
            "conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False
        ),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("form_id", sa.String(36), nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submission_id", sa.String(36), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_form_requests_site_id", "form_requests", ["site_id"])
    op.create_index("ix_form_requests_conversation_id", "form_requests", ["conversation_id"])


def downgrade() -> None:
    for table in (
        "form_requests",
        "form_versions",
        "forms",
        "messages",
        "conversation_participants",
        "conversations",
        "site_api_keys",
        "users",
        "sites",
    ):
        op.drop_table(table)
