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
    Column("data_key_id", String(16), nullable=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)


# The keystore: per site and month data keys, wrapped by the keyring's data key. It lives
# apart from the vault DB (by default in the app DB), so that a backup of the vault DB is
# unreadable once a month's key is destroyed here.
keystore_metadata = MetaData()

data_keys = Table(
    "vault_data_keys",
    keystore_metadata,
    Column("id", String(16), primary_key=True),  # hex of the 8-byte id in envelopes
    Column("site_id", String(36), nullable=False, index=True),
    Column("period", String(7), nullable=False),  # YYYY-MM of the data it seals
    Column("wrapped", LargeBinary, nullable=True),  # NULL once destroyed
    Column("wrapping_key_id", String(16), nullable=True),
    Column("state", String(12), nullable=False),  # active | destroyed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destroyed_at", DateTime(timezone=True), nullable=True),
)
