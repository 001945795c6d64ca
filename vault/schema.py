"""The vault DB: tokenized submissions by UUID, nothing in the clear."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

submissions = Table(
    "vault_submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), nullable=False, index=True),
    Column("conversation_id", String(36), nullable=False, index=True),
    Column("agent_id", String(36), nullable=False),
    Column("request_id", String(36), nullable=False),
    Column("form_id", String(36), nullable=False),
    Column("form_version", Integer, nullable=False),
    # JSON of field -> sealed envelope (base64); the field names are the form's, not data
    Column("sealed_values", LargeBinary, nullable=False),
    # names of the fields that went to the off-the-record store instead (no values)
    Column("off_record_fields", Text, nullable=False, default="[]"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
