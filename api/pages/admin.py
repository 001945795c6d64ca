"""The console (/admin) for admins and managers; each section lives in its own module.

    /admin              an overview linking to the sections this user may use
    /admin/forms        secure form definitions: editor and visitor's preview (admin_forms)
    /admin/users        users: create, disable, re-enable, profile (admin_users)
    /admin/profiles     profiles and their permissions (admin_profiles)
    /admin/policies     the site's account and data policies (admin_policies)
    /admin/payments     the payment processor cards are forwarded to (admin_payments)
    /admin/api-keys     the site's API keys for chat platforms and bots (admin_api_keys)
    /admin/webhooks     where the site's events are POSTed, signed (admin_webhooks)
    /admin/audit        the audit trail, filtered and paged (admin_audit)
    /admin/history      engagement history for managers allowed to see it (admin_history)

Every page is server-rendered and every change is a plain form post, checked against the
session's CSRF token, that redirects to a page saying what changed (POST-redirect-GET).
The handlers call core with the signed-in user's Actor, as the JSON API does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.pages import (
    admin_api_keys,
    admin_audit,
    admin_branding,
    admin_forms,
    admin_history,
    admin_payments,
    admin_policies,
    admin_profiles,
    admin_users,
    admin_webhooks,
)
from api.pages.admin_gate import ANY_CONSOLE_USER, console_get
from api.pages.admin_kit import SECTIONS, console_page, may_use
from api.pages.web import page
from core.actors import VIEW_HISTORY, Actor, Role
from core.runtime import Runtime

_ABOUT = {
    "/admin/forms": "Build the secure forms agents send, and preview them as visitors see them.",
    "/admin/users": "Create agents, managers and admins; disable and re-enable accounts.",
    "/admin/profiles": "Named sets of permissions within a role, assigned to users.",
    "/admin/policies": "Passwords, lock-out, idle sign-out, retention and more.",
    "/admin/branding": "The name, colour, logo and help link visitors see on secure forms.",
    "/admin/payments": "The payment processor agents send cards to, never seeing them.",
    "/admin/api-keys": "Keys for chat platforms and bots, each with its own scopes.",
    "/admin/webhooks": "Signed notices of what happens to forms, for your chat platform.",
    "/admin/audit": "Who did what and when, filtered by time, type and user.",
    "/admin/history": "The secure forms each conversation collected, and their stored answers.",
}


@page
@console_get(ANY_CONSOLE_USER)
def overview(request: Request, rt: Runtime, actor: Actor) -> Response:
    sections = [
        {"href": href, "label": label, "about": _ABOUT[href]}
        for href, label, need in SECTIONS
        if may_use(actor, need)
    ]
    return console_page(
        request,
        rt,
        actor,
        "admin_overview.html",
        section="/admin",
        sections=sections,
        lacks_history=actor.role == Role.MANAGER and VIEW_HISTORY not in actor.permissions,
    )


def routes() -> list[BaseRoute]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/admin", overview, methods=get),
        Route("/admin/forms", admin_forms.list_forms, methods=get),
        Route("/admin/forms/new", admin_forms.new_form, methods=get),
        Route("/admin/forms/new", admin_forms.post_form, methods=post),
        Route("/admin/forms/{form_id}", admin_forms.edit_form, methods=get),
        Route("/admin/forms/{form_id}", admin_forms.post_form, methods=post),
        Route("/admin/forms/{form_id}/archive", admin_forms.archive_page, methods=get),
        Route("/admin/forms/{form_id}/archive", admin_forms.archive, methods=post),
        Route("/admin/users", admin_users.list_users, methods=get),
        Route("/admin/users", admin_users.create_user, methods=post),
        Route("/admin/users/{user_id}", admin_users.user_page, methods=get),
        Route("/admin/users/{user_id}", admin_users.update_user, methods=post),
        Route("/admin/users/{user_id}/status", admin_users.set_status, methods=post),
        Route("/admin/profiles", admin_profiles.list_profiles, methods=get),
        Route("/admin/profiles", admin_profiles.create_profile, methods=post),
        Route("/admin/profiles/{profile_id}", admin_profiles.profile_page, methods=get),
        Route("/admin/profiles/{profile_id}", admin_profiles.update_profile, methods=post),
        Route("/admin/policies", admin_policies.policies_page, methods=get),
        Route("/admin/policies", admin_policies.save_policies, methods=post),
        Route("/admin/branding", admin_branding.branding_page, methods=get),
        Route("/admin/branding", admin_branding.save_branding, methods=post),
        Route("/admin/payments", admin_payments.payments_page, methods=get),
        Route("/admin/payments", admin_payments.save_payments, methods=post),
        Route("/admin/api-keys", admin_api_keys.keys_page, methods=get),
        Route("/admin/api-keys", admin_api_keys.create_key, methods=post),
        Route("/admin/api-keys/{key_id}/delete", admin_api_keys.delete_key, methods=post),
        Route("/admin/webhooks", admin_webhooks.webhooks_page, methods=get),
        Route("/admin/webhooks", admin_webhooks.add_webhook, methods=post),
        Route("/admin/webhooks/{webhook_id}/rotate", admin_webhooks.rotate_secret, methods=post),
        Route("/admin/webhooks/{webhook_id}/delete", admin_webhooks.delete_webhook, methods=post),
        Route("/admin/audit", admin_audit.audit_page, methods=get),
        Route("/admin/history", admin_history.history_page, methods=get),
        Route(
            "/admin/history/submissions/{submission_id}/reveal",
            admin_history.reveal,
            methods=post,
        ),
    ]
