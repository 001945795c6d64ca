"""The success bodies of the JSON API, as JSON schemas for the OpenAPI document.

`ANSWERS` names each endpoint's answer by "METHOD path" (tests/api/test_answers.py fails
for an endpoint with a body but no entry), so /openapi.json says what a 2xx body holds and the fuzz
(tests/integration/test_fuzz.py) checks every answer against it. Top-level objects are
closed (no key we did not document); nested records that core shapes (a form definition,
an audit event, a chat event) are checked for their keys and types but may grow.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
ANY: Schema = {}
TIME: Schema = {"type": "string", "format": "date-time"}


def maybe(schema: Schema) -> Schema:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(
    required: dict[str, Schema], optional: dict[str, Schema] | None = None, *, closed: bool = True
) -> Schema:
    """An object with these keys (each of the given schema) and maybe the optional ones."""
    schema: Schema = {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def or_empty(schema: Schema) -> Schema:
    """A query parameter that may also be sent empty (`?after=`), meaning its default."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def listing(key: str, item: Schema, **more: Schema) -> Schema:
    """{"<key>": [item, ...], ...more}"""
    return obj({key: array(item), **more})


STRINGS = array(STR)
RECORD: Schema = {"type": "object"}  # shaped by core, documented in docs/api.md

# -- sessions and users -----------------------------------------------------------------
LOGIN = obj(
    {"token": STR, "user": obj({"id": STR, "role": STR}, closed=False), "idle_timeout_s": INT}
)
_USER_FIELDS: dict[str, Schema] = {
    "id": STR,
    "username": STR,
    "role": STR,
    "display_name": maybe(STR),
    "profile_id": maybe(STR),
    "enabled": BOOL,
    "permissions": STRINGS,
    "mfa_enabled": BOOL,
    "created_at": TIME,
    "password_changed_at": maybe(TIME),
}
USER = obj(_USER_FIELDS)
ME = obj({**_USER_FIELDS, "site_id": STR})
USERS = listing("users", USER)
MFA_ENROLL = obj({"secret": STR, "otpauth_uri": STR})
RECOVERY_CODES = obj({"recovery_codes": STRINGS})
CREATED_ID = obj({"id": STR})

# -- site settings ------------------------------------------------------------------------
PROFILE = obj(
    {
        "id": STR,
        "name": STR,
        "role": STR,
        "permissions": STRINGS,
        "is_default": BOOL,
        "created_at": TIME,
        "updated_at": TIME,
    }
)
PROFILES = listing("profiles", PROFILE)
POLICIES = obj(
    {
        "password_min_length": INT,
        "failed_login_limit": INT,
        "idle_timeout_s": INT,
        "idle_action": STR,
        "retention_days": INT,
        "off_record_ttl_s": INT,
        "link_opens": INT,
        "mfa_required_roles": STRINGS,
        "frame_ancestors": STRINGS,
        "agent_frame_ancestors": STRINGS,
        "default_language": STR,
    }
)
BRANDING = obj(
    {
        "display_name": STR,
        "primary_color": STR,
        "support_url": maybe(STR),
        "logo_url": maybe(STR),
        "stylesheet_url": maybe(STR),
        "configured": BOOL,
    }
)
PAYMENTS = obj(
    {"provider": maybe(STR)},
    {
        "base_url": maybe(STR),
        "key_last4": maybe(STR),
        "erase_after_forward": BOOL,
        "updated_at": maybe(TIME),
    },
)
AUDIT = obj({"events": array(RECORD), "next_after": maybe(INT)})

API_KEY = obj({"id": STR, "name": STR, "scopes": STRINGS, "created_at": TIME})
API_KEYS = listing("api_keys", API_KEY)
NEW_API_KEY = obj({**API_KEY["properties"], "api_key": STR})
WEBHOOK = obj(
    {
        "id": STR,
        "url": STR,
        "events": STRINGS,
        "created_at": TIME,
        "previous_secret_until": maybe(TIME),
    }
)
WEBHOOKS = listing("webhooks", WEBHOOK)
CHATWOOT = obj(
    {
        "base_url": STR,
        "account_id": INT,
        "inbox_ids": maybe(array(INT)),
        "api_access_token_set": BOOL,
        "webhook_secret_set": BOOL,
        "agents": {"type": "object", "additionalProperties": STR},
        "webhook_path": STR,
        "updated_at": STR,
    }
)
CHATWOOT_OUTCOME = obj(
    {"outcome": {"enum": ["created", "assigned", "closed", "unchanged", "ignored"]}},
    {"conversation_id": STR},
)
NEW_WEBHOOK = obj({"id": STR, "secret": STR, "url": STR, "events": STRINGS})
ROTATED = obj({"id": STR, "secret": STR, "previous_secret_until": TIME})
DELIVERIES = listing("deliveries", RECORD)

# -- forms --------------------------------------------------------------------------------
FORMS = listing("forms", RECORD)
FORM = RECORD
FORM_VERSION = obj({"id": STR, "version": INT}, closed=False)
ARCHIVED = obj({"id": STR, "archived": BOOL}, closed=False)
EXPORT = obj(
    {
        "format": {"const": "secureforms.form"},
        "format_version": INT,
        "exported_at": TIME,
        "source": obj({"form_id": STR, "version": INT}),
        "definition": RECORD,
    }
)
TEMPLATES = listing("templates", RECORD)

# -- conversations ------------------------------------------------------------------------
_STATUS: Schema = {"enum": ["active", "closed"]}
_VISITOR = obj({"name": maybe(STR)})
_MESSAGE_FIELDS: dict[str, Schema] = {"at": TIME, "author": maybe(STR), "text": STR}
NEW_CONVERSATION = obj(
    {"id": STR, "status": _STATUS, "agent_id": maybe(STR), "external_id": maybe(STR)}
)
CONVERSATION = obj(
    {
        "id": STR,
        "status": _STATUS,
        "agent_id": maybe(STR),
        "visitor": _VISITOR,
        "created_at": TIME,
        "external_id": maybe(STR),
    },
    {"participants": STRINGS},  # after adding one
)
_LISTED = {
    "id": STR,
    "external_id": maybe(STR),
    "status": _STATUS,
    "agent_id": maybe(STR),
    "assigned": BOOL,
    "visitor": _VISITOR,
    "created_at": TIME,
    "closed_at": maybe(TIME),
}
CONVERSATIONS = listing(
    "conversations", obj({**_LISTED, "last_message": maybe(obj(_MESSAGE_FIELDS))})
)
CONVERSATION_DETAIL = obj({**_LISTED, "participants": STRINGS, "secure_forms": array(RECORD)})
MESSAGE = obj({**_MESSAGE_FIELDS, "card_number_masked": BOOL})
TRANSCRIPT = listing(
    "messages", obj({**_MESSAGE_FIELDS, "from": {"enum": ["visitor", "agent", "system", "bot"]}})
)
EVENTS = listing("events", obj({"id": STR, "type": STR, "data": ANY}, closed=False))

# -- secure forms -------------------------------------------------------------------------
SENT = obj({"request_id": STR, "otk": STR, "visitor_url": STR, "expires_at": TIME}, closed=False)
REQUEST_STATUS = obj(
    {"request_id": STR, "status": STR}, {"submission_id": maybe(STR)}, closed=False
)
OTK = obj({"otk": STR, "expires_at": TIME}, closed=False)
REVEALED = obj({"submission_id": STR, "values": RECORD}, closed=False)
FORWARDED = obj({"processor": STR, "brand": maybe(STR), "last4": maybe(STR)}, closed=False)
HISTORY = obj({"conversation_id": STR, "submissions": array(RECORD)}, closed=False)
ERASED = obj({"erased": INT})

# -- the visitor --------------------------------------------------------------------------
OPENED = obj(
    {"request_id": STR, "form": RECORD, "submit_otk": STR, "expires_at": TIME}, closed=False
)
EXTENDED = obj({"submit_otk": STR, "expires_at": TIME}, closed=False)
ACCEPTED = obj({"status": {"const": "accepted"}})
CHECKED = obj({"fields": {"type": "object", "additionalProperties": STR}})
VISITOR_TOKEN = obj({"token": STR, "expires_at": TIME}, closed=False)
CHAT_FORM = obj({"request_id": STR, "expires_at": TIME}, closed=False)
CHAT = obj({"conversation_id": STR, "status": STR}, closed=False)

# -- operations ---------------------------------------------------------------------------
HEALTH = obj({"status": {"const": "ok"}})
READY = obj({"status": STR, "checks": {"type": "object", "additionalProperties": BOOL}})
DOCUMENT = obj({"openapi": STR, "info": RECORD, "paths": RECORD}, closed=False)

ANSWERS: dict[str, Schema] = {
    "POST /api/v1/auth/login": LOGIN,
    "GET /api/v1/auth/me": ME,
    "POST /api/v1/auth/mfa/enroll": MFA_ENROLL,
    "POST /api/v1/auth/mfa/recovery-codes": RECOVERY_CODES,
    "POST /api/v1/auth/mfa/confirm": RECOVERY_CODES,
    "POST /api/v1/users": CREATED_ID,
    "GET /api/v1/users": USERS,
    "GET /api/v1/users/{user_id}": USER,
    "PATCH /api/v1/users/{user_id}": USER,
    "GET /api/v1/profiles": PROFILES,
    "POST /api/v1/profiles": PROFILE,
    "GET /api/v1/profiles/{profile_id}": PROFILE,
    "PATCH /api/v1/profiles/{profile_id}": PROFILE,
    "GET /api/v1/site/policies": POLICIES,
    "PUT /api/v1/site/policies": POLICIES,
    "GET /api/v1/site/branding": BRANDING,
    "PUT /api/v1/site/branding": BRANDING,
    "GET /api/v1/site/payments": PAYMENTS,
    "PUT /api/v1/site/payments": PAYMENTS,
    "GET /api/v1/audit": AUDIT,
    "GET /api/v1/site/api-keys": API_KEYS,
    "POST /api/v1/site/api-keys": NEW_API_KEY,
    "POST /api/v1/webhooks": NEW_WEBHOOK,
    "GET /api/v1/webhooks": WEBHOOKS,
    "POST /api/v1/webhooks/{webhook_id}/rotate-secret": ROTATED,
    "GET /api/v1/webhooks/{webhook_id}/deliveries": DELIVERIES,
    "PUT /api/v1/site/integrations/chatwoot": CHATWOOT,
    "GET /api/v1/site/integrations/chatwoot": CHATWOOT,
    "POST /api/v1/integrations/chatwoot/webhook/{site_id}": CHATWOOT_OUTCOME,
    "POST /api/v1/forms": FORM_VERSION,
    "GET /api/v1/forms": FORMS,
    "GET /api/v1/forms/{form_id}": FORM,
    "PUT /api/v1/forms/{form_id}": FORM_VERSION,
    "DELETE /api/v1/forms/{form_id}": ARCHIVED,
    "GET /api/v1/forms/{form_id}/export": EXPORT,
    "POST /api/v1/forms/import": FORM_VERSION,
    "GET /api/v1/form-templates": TEMPLATES,
    "POST /api/v1/forms/from-template/{template}": FORM_VERSION,
    "GET /api/v1/conversations": CONVERSATIONS,
    "POST /api/v1/conversations": NEW_CONVERSATION,
    "GET /api/v1/conversations/{conversation_id}": CONVERSATION_DETAIL,
    "POST /api/v1/conversations/{conversation_id}/participants": CONVERSATION,
    "POST /api/v1/conversations/{conversation_id}/transfer": CONVERSATION,
    "POST /api/v1/conversations/{conversation_id}/close": CONVERSATION,
    "POST /api/v1/conversations/{conversation_id}/messages": MESSAGE,
    "GET /api/v1/conversations/{conversation_id}/transcript": TRANSCRIPT,
    "POST /api/v1/conversations/{conversation_id}/secure-forms": SENT,
    "GET /api/v1/secure-forms/{request_id}": REQUEST_STATUS,
    "POST /api/v1/submissions/{submission_id}/retrieve-otk": OTK,
    "POST /api/v1/submissions/{submission_id}/reveal": REVEALED,
    "POST /api/v1/submissions/{submission_id}/forward": FORWARDED,
    "GET /api/v1/conversations/{conversation_id}/secure-forms": HISTORY,
    "POST /api/v1/submissions/{submission_id}/history-reveal": REVEALED,
    "DELETE /api/v1/conversations/{conversation_id}/secure-forms": ERASED,
    "POST /api/v1/visitor/open": OPENED,
    "POST /api/v1/visitor/check": CHECKED,
    "POST /api/v1/visitor/extend": EXTENDED,
    "POST /api/v1/visitor/submit": ACCEPTED,
    "POST /api/v1/chat/conversations/{conversation_id}/visitor-token": VISITOR_TOKEN,
    "POST /api/v1/chat/conversations/{conversation_id}/secure-forms": CHAT_FORM,
    "GET /api/v1/chat": CHAT,
    "POST /api/v1/chat/messages": MESSAGE,
    "GET /api/v1/chat/events": EVENTS,
    "GET /api/v1/agent/events": EVENTS,
    "GET /healthz": HEALTH,
    "GET /readyz": READY,
    "GET /openapi.json": DOCUMENT,
}
