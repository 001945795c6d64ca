"""A site's Chatwoot (core.chatwoot): its settings, and the webhooks Chatwoot sends us.

The webhook endpoint is public (Chatwoot holds no key of ours) and trusts nothing before
the signature: an unknown site, a site without a secret, a bad or old signature all get
the same 401, so the endpoint tells a prober nothing about which sites use Chatwoot.
"""

from __future__ import annotations

from typing import Any

from api.endpoints import ANY_BODY, PUBLIC, Ctx
from api.errors import ApiError
from api.routes import registry
from connectors import chatwoot as chatwoot_connector
from core import chatwoot, chatwoot_inbound
from core.actors import Role

ADMIN = (Role.ADMIN,)
SETTINGS_PATH = "/api/v1/site/integrations/chatwoot"


@registry.route(
    "PUT",
    SETTINGS_PATH,
    tag="integrations",
    body=ANY_BODY,
    roles=ADMIN,
    responses={422: "validation_failed"},
    summary='Set up Chatwoot: {"base_url", "account_id", "api_access_token", "inbox_ids"?, '
    '"webhook_secret"?, "agents"?: {"<Chatwoot agent id>": "<username>"}}. The token and '
    "the secret are sealed at rest and never shown again; left out on a later PUT, they "
    "keep their value. Answers the settings as GET does.",
)
def put_chatwoot(ctx: Ctx) -> dict[str, Any]:
    """Set up or change the site's Chatwoot."""
    return chatwoot.configure(ctx.rt, ctx.user, ctx.body, ctx.services.webhook_policy.check)


@registry.route(
    "GET",
    SETTINGS_PATH,
    tag="integrations",
    roles=ADMIN,
    responses={404: "not_found"},
    summary="The site's Chatwoot settings: never the token or the webhook secret, only "
    "whether they are set.",
)
def get_chatwoot(ctx: Ctx) -> dict[str, Any]:
    """The site's Chatwoot settings."""
    return chatwoot.shown(ctx.rt, ctx.user)


@registry.route(
    "DELETE",
    SETTINGS_PATH,
    status=204,
    tag="integrations",
    roles=ADMIN,
    responses={404: "not_found"},
)
def delete_chatwoot(ctx: Ctx) -> None:
    """Forget the site's Chatwoot and every message still waiting for it."""
    chatwoot.remove(ctx.rt, ctx.user)


@registry.route(
    "POST",
    "/api/v1/integrations/chatwoot/webhook/{site_id}",
    auth=PUBLIC,
    tag="integrations",
    body=ANY_BODY,
    responses={401: "invalid_signature", 422: "validation_failed"},
    summary="Chatwoot's webhooks (conversation_created, conversation_updated, "
    "conversation_status_changed), signed with X-Chatwoot-Timestamp and "
    "X-Chatwoot-Signature (sha256=HMAC of '<timestamp>.<body>'), at most 5 minutes old. "
    'Answers {"outcome": "created"|"assigned"|"closed"|"unchanged"|"ignored"}.',
)
def chatwoot_webhook(ctx: Ctx) -> dict[str, Any]:
    """Keep a conversation in step with Chatwoot."""
    site_id = ctx.path["site_id"]
    secret = chatwoot.webhook_secret(ctx.rt, site_id)
    headers = ctx.request.headers
    if secret is None or not chatwoot_connector.verified(
        secret,
        ctx.request.state.raw_body,
        headers.get(chatwoot_connector.TIMESTAMP_HEADER),
        headers.get(chatwoot_connector.SIGNATURE_HEADER),
    ):
        raise ApiError(
            401,
            "invalid_signature",
            "The X-Chatwoot-Signature does not match, or its timestamp is more than "
            "5 minutes away.",
        )
    delivery = headers.get(chatwoot_connector.DELIVERY_HEADER)
    signature = headers.get(chatwoot_connector.SIGNATURE_HEADER)
    return chatwoot_inbound.once(ctx.rt, site_id, delivery, ctx.body, signature)
