"""The app DB: sites, people, profiles, conversations, form definitions and requests, the audit
trail. Never a submitted value."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
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
    # a0002: MFA (RFC 6238) and password changes
    Column("mfa_enabled", Boolean, nullable=False, default=False, server_default=false()),
    # a0003: sealed at rest ("sealed:v1:" + base64 of an envelope, see core.mfa)
    Column("mfa_secret", String(255), nullable=True),
    Column("mfa_pending_secret", String(255), nullable=True),
    Column("mfa_last_step", Integer, nullable=True),  # a TOTP step is accepted once
    Column("password_changed_at", DateTime(timezone=True), nullable=True),
    # a0004: an admin chose the password (created, reset): the user must choose their own
    Column("must_change_password", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("site_id", "username", name="uq_users_site_username"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("permissions", Text, nullable=False),  # JSON list, see core.profiles
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("site_id", "name", name="uq_profiles_site_name"),
)

password_history = Table(
    "password_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),
)

# Append-only (triggers in a0002); hash-chained per site, see core.audit.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("type", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("user_id", String(36), nullable=True),
    Column("origin", String(64), nullable=True),
    Column("resource", String(500), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("site_id", "seq", name="uq_audit_events_site_seq"),
    Index("ix_audit_events_site_at", "site_id", "at"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("site_id", String(36), ForeignKey("sites.id"), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

site_api_keys = Table(
    "site_api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a0008: what the key may do (core.api_keys.Scope), space-separated
    Column("scopes", String(200), nullable=False, server_default="conversations"),
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
    # a0008: the chat platform's own id for it, so a platform never has to store ours
    Column("external_id", String(200), nullable=True),
    Index("uq_conversations_site_external_id", "site_id", "external_id", unique=True),
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
    # visitor | agent | bot | system (core.conversations): how a line is shown is decided
    # by this, never by the author's name.
    Column("sender", String(16), nullable=False),
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
    # a0008: sent by a site API key for the named agent (None: the agent sent it); the
    # key's name is kept as it was then, since a key can be renamed away or deleted.
    Column("sent_by_key_id", String(36), nullable=True),
    Column("sent_by_name", String(200), nullable=True),
    # a0008: how many times the visitor link was opened (policy link_opens)
    Column("opens", Integer, nullable=False, server_default=text("0")),
    # a0010: the visitor pages' language the sender chose (core.forms.speech.LANGUAGES);
    # None lets the visitor's browser, then the site's default, choose.
    Column("language", String(8), nullable=True),
)

# a0007: how the visitor pages show the site (core.branding); the logo is Pillow's
# re-encoding, never the uploaded file.
site_brands = Table(
    "site_brands",
    metadata,
    Column("site_id", String(36), ForeignKey("sites.id"), primary_key=True),
    Column("display_name", String(80), nullable=False),
    Column("primary_color", String(7), nullable=False),
    Column("support_url", String(2000), nullable=True),
    Column("logo", LargeBinary, nullable=True),
    Column("logo_type", String(20), nullable=True),
    Column("logo_digest", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# a0004: a site's payment processor (core.payment_settings), sealed at rest like TOTP
# secrets (core.sealed): provider, key and endpoint in one envelope bound to the site.
payment_settings = Table(
    "payment_settings",
    metadata,
    Column("site_id", String(36), ForeignKey("sites.id"), primary_key=True),
    Column("provider", String(20), nullable=False),
    Column("sealed_config", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# a0004: what a forward left behind (core.payments): the processor's ids, the brand and
# the last four and expiry, as a receipt prints them. Never the number.
payment_forwards = Table(
    "payment_forwards",
    metadata,
    Column("submission_id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("processor", String(20), nullable=False),
    Column("reference", String(255), nullable=True),
    Column("brand", String(40), nullable=True),
    Column("last4", String(4), nullable=False),
    Column("exp_month", Integer, nullable=True),
    Column("exp_year", Integer, nullable=True),
    Column("payment_intent_id", String(255), nullable=True),
    Column("payment_intent_status", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# a0009: signed webhooks (core.webhooks). The secrets are sealed at rest (core.sealed);
# during a rotation the old one signs too, until previous_until.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event types
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text, nullable=True),
    Column("previous_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a0011: "webhook" (a site's own receiver) or "chatwoot" (the row core.chatwoot keeps
    # for a site's Chatwoot: its base URL, its sealed API token as the secret); only the
    # first kind is listed, counted and managed as webhooks.
    Column("kind", String(16), nullable=False, server_default="webhook"),
)

# a0011: a site's Chatwoot (core.chatwoot). Messages go out through the outbox, to the
# webhooks row `webhook_id` of kind "chatwoot"; Chatwoot's own webhooks are checked with
# the sealed `webhook_secret`. One per site.
chatwoot_integrations = Table(
    "chatwoot_integrations",
    metadata,
    Column("site_id", String(36), ForeignKey("sites.id"), primary_key=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id"), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("inbox_ids", Text, nullable=True),  # JSON list; None: every inbox
    Column("webhook_secret", Text, nullable=True),
    Column("agents", Text, nullable=True),  # JSON {Chatwoot agent id: our user id}
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The outbox (core.outbox): an event is written in the transaction of the change that
# caused it, with one delivery per subscribed webhook; the body is exactly what is sent
# (ids and statuses, never a value). `seq` orders a conversation's events.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id"), nullable=False),
    Column("event_seq", Integer, ForeignKey("webhook_events.seq"), nullable=False),
    Column("site_id", String(36), nullable=False),
    # Deliveries with the same webhook and key go out in event order (a conversation's id).
    Column("order_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_order", "webhook_id", "order_key", "status", "event_seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("webhook_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | retrying | failed
    Column("response_code", Integer, nullable=True),
    Column("error", String(200), nullable=True),
    Index("ix_webhook_attempts_webhook", "webhook_id", "id"),
)
