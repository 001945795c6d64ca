"""The app DB: sites, people, conversations, form definitions and requests. Never a value."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

sites = Table(
    "sites",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("policies", Text, nullable=False),  # JSON, see core.policies
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("username", String(150), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),
    Column("display_name", String(200), nullable=True),
    Column("profile_id", String(36), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("site_id", "username", name="uq_users_site_username"),
)

site_api_keys = Table(
    "site_api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("agent_id", String(36), nullable=True),
    Column("visitor_name", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)

participants = Table(
    "conversation_participants",
    metadata,
    Column("conversation_id", String(36), ForeignKey("conversations.id"), primary_key=True),
    Column("agent_id", String(36), primary_key=True),
    Column("joined_at", DateTime(timezone=True), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id", String(36), ForeignKey("conversations.id"), nullable=False, index=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author", String(200), nullable=False),
    Column("text", Text, nullable=False),
)

forms = Table(
    "forms",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

form_versions = Table(
    "form_versions",
    metadata,
    Column("form_id", String(36), ForeignKey("forms.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),  # JSON of core.forms.FormDefinition
    Column("created_at", DateTime(timezone=True), nullable=False),
)

form_requests = Table(
    "form_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column(
        "conversation_id", String(36), ForeignKey("conversations.id"), nullable=False, index=True
    ),
    Column("agent_id", String(36), nullable=False),
    Column("form_id", String(36), nullable=False),
    Column("form_version", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("submission_id", String(36), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
