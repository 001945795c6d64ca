"""Sending a secure form and revealing what came back (the sending agent only)."""

from __future__ import annotations

from typing import Any

from api.bodies import field
from api.endpoints import USER_OR_KEY, Ctx
from api.routes import registry
from core import form_requests, submissions
from core.actors import USE_SECURE_FORMS, Role, Scope

_OTK = field(str, required=True, max_length=128)


# Agents with secure_forms.use or forward_payments (core checks which), and site keys
# with the secure_forms scope, sending for the conversation's agent.
_SENDERS = (Role.AGENT, Role.SITE_KEY)


@registry.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/secure-forms",
    auth=USER_OR_KEY,
    scope=Scope.SECURE_FORMS,
    status=201,
    tag="secure forms",
    body={
        "form_id": field(str, required=True, max_length=64),
        "agent_id": field(str, max_length=64),
        "language": field(str, max_length=16),  # the visitor pages' (the agent's picker)
    },
    responses={
        403: "forbidden",
        409: "conversation_closed",
        422: "agent_not_eligible or validation_failed",
    },
    roles=_SENDERS,
)
def send(ctx: Ctx) -> dict[str, Any]:
    """Send a secure form into a conversation; answers the visitor's link. A site key names
    the agent it sends for (`agent_id`): the conversation's assigned agent, who alone can
    reveal the answers."""
    return form_requests.send_form(
        ctx.rt,
        ctx.user,
        ctx.path["conversation_id"],
        ctx.body["form_id"],
        ctx.body.get("agent_id"),
        language=ctx.body.get("language"),
    )


@registry.route(
    "GET",
    "/api/v1/secure-forms/{request_id}",
    auth=USER_OR_KEY,
    scope=Scope.SECURE_FORMS,
    tag="secure forms",
    roles=_SENDERS,
)
def status(ctx: Ctx) -> dict[str, Any]:
    """Where a sent form is: sent, opened, submitted, viewed or expired."""
    return form_requests.request_status(ctx.rt, ctx.user, ctx.path["request_id"])


@registry.route(
    "POST",
    "/api/v1/submissions/{submission_id}/retrieve-otk",
    rate="otk",
    tag="secure forms",
    responses={403: "forbidden", 409: "conversation_closed"},
    roles=(Role.AGENT,),  # reveal's or forward's permission: core checks which
)
def retrieve_otk(ctx: Ctx) -> dict[str, str]:
    """A fresh one-time key to reveal a submission (for a second look)."""
    return submissions.issue_retrieve_otk(ctx.rt, ctx.user, ctx.path["submission_id"])


@registry.route(
    "POST",
    "/api/v1/submissions/{submission_id}/reveal",
    rate="otk",
    body={"otk": _OTK},
    tag="secure forms",
    responses={403: "forbidden", 409: "conversation_closed", 410: "invalid_or_expired"},
    permission=USE_SECURE_FORMS,
    mfa=True,
    audit="form.revealed",
)
def reveal(ctx: Ctx) -> dict[str, Any]:
    """Reveal the answers, once per key; off-the-record answers only once at all."""
    return submissions.reveal(ctx.rt, ctx.user, ctx.path["submission_id"], ctx.body["otk"])
