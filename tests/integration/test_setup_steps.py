"""Steps a user must finish before anything else answers (api.auth.Setup), over HTTP
against a real api: enrolling in MFA where the site's policy requires it for the role
(issue 11, item 3), and replacing a password an admin chose (item 8).

Until then, the JSON API answers 403 with the step's code and changes nothing, and every
page but the account page sends the user there; signing out always works.
"""

from __future__ import annotations

import time
import uuid

import httpx
from support.page_forms import hidden, sign_in
from support.sites import OwnSite
from support.stack import Stack

from core.mfa import totp

ADMIN_PASSWORD = "admin-password-1"  # support.sites: what `site create` was given
_STRONG = f"pw-{uuid.uuid4().hex}"


def _error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.text}"
    assert r.json()["error"] == code, r.text


def _enrol(site: OwnSite, headers: dict[str, str], password: str) -> None:
    r = site.call("POST", "/auth/mfa/enroll", headers, {"current_password": password})
    assert r.status_code == 200, r.text
    code = totp(r.json()["secret"], time.time())
    r = site.call("POST", "/auth/mfa/confirm", headers, {"totp": code})
    assert r.status_code == 200, r.text


def _usernames(site: OwnSite, headers: dict[str, str]) -> set[str]:
    r = site.call("GET", "/users", headers)
    assert r.status_code == 200, r.text
    return {u["username"] for u in r.json()["users"]}


# -- item 3: MFA required for a role ----------------------------------------------------------


def test_an_admin_without_mfa_reaches_only_enrolment_until_enrolled(stack: Stack) -> None:
    site = OwnSite.make(stack)
    manager_id, _, _ = site.user("manager")
    before = _usernames(site, site.admin)
    site.policies(mfa_required_roles=["admin"])
    admin = site.admin  # `site create`'s admin, who has not enrolled

    refused = {
        "create a user": site.call(
            "POST",
            "/users",
            admin,
            {
                "username": f"x-{uuid.uuid4().hex[:6]}",
                "password": "Pw-" + "z9" * 8,
                "role": "admin",
            },
        ),
        "reset a password": site.call(
            "PATCH", f"/users/{manager_id}", admin, {"password": "Pw-" + "y8" * 8}
        ),
        "reset MFA": site.call("PATCH", f"/users/{manager_id}", admin, {"mfa_reset": True}),
        "turn the rule off": site.call("PUT", "/site/policies", admin, {"mfa_required_roles": []}),
        "list users": site.call("GET", "/users", admin),
    }
    for what, r in refused.items():
        _error(r, 403, "mfa_enrollment_required")
        assert "enrol" in r.json()["message"], what
    assert site.call("GET", "/auth/me", admin).status_code == 200

    _enrol(site, admin, ADMIN_PASSWORD)  # the same session follows the enrolment at once
    assert _usernames(site, admin) == before
    assert site.call("GET", "/site/policies", admin).json()["mfa_required_roles"] == ["admin"]
    # Every refusal was audited, and nothing they asked for happened.
    trail = [
        e
        for e in site.trail(type="access.denied")
        if e["resource"].endswith(";mfa_enrollment_required")
    ]
    assert len(trail) >= len(refused)
    r = site.call("GET", f"/users/{manager_id}", admin)
    assert r.status_code == 200 and r.json()["enabled"]


def test_pages_send_a_user_without_mfa_to_the_account_page(stack: Stack) -> None:
    site = OwnSite.make(stack)
    _, agent, agent_password = site.user("agent")
    users_before = _usernames(site, site.admin)
    site.policies(mfa_required_roles=["agent", "admin"])
    with stack.client() as c:
        sign_in(c, site.site_id, agent, agent_password)
        for path in ("/agent", "/agent?c=x"):
            r = c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"] == "/account?required=mfa"
        page = c.get("/account?required=mfa")
        assert page.status_code == 200
        assert "Set up two-step sign-in to continue" in page.text
        assert "this page and signing out are all you can use" in page.text
        csrf = hidden(page.text, "csrf")
        r = c.post("/agent/close", data={"csrf": csrf, "conversation": "x"})
        assert r.headers["location"] == "/account?required=mfa"
        # Enrolling is reachable: the set-up page shows a secret.
        r = c.post(
            "/account/mfa/setup", data={"csrf": csrf, "mfa_current_password": agent_password}
        )
        assert r.status_code == 200 and hidden(r.text, "secret")
        assert c.post("/logout", data={"csrf": csrf}).status_code == 303
        assert c.get("/account").status_code == 303  # signed out

    # The console: the site's admin (no MFA) creates nothing through the form either.
    with stack.client() as c:
        sign_in(c, site.site_id, "admin", ADMIN_PASSWORD)
        csrf = hidden(c.get("/account").text, "csrf")
        r = c.post(
            "/admin/users",
            data={
                "csrf": csrf,
                "username": "sneaky",
                "password": "Pw-" + "q7" * 8,
                "role": "admin",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/account?required=mfa"
    _enrol(site, site.admin, ADMIN_PASSWORD)
    assert _usernames(site, site.admin) == users_before


# -- item 8: a password an admin chose is changed at the first sign-in -----------------------


def test_an_admin_set_password_must_be_changed_before_anything_else(stack: Stack) -> None:
    site = OwnSite.make(stack)
    username, given = f"agent-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    r = site.call(
        "POST", "/users", site.admin, {"username": username, "password": given, "role": "agent"}
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]

    headers = site.login(username, given)  # signing in works, and then only the change
    _error(site.call("GET", "/conversations", headers), 403, "password_change_required")
    enrol = site.call("POST", "/auth/mfa/enroll", headers, {"current_password": given})
    _error(enrol, 403, "password_change_required")
    assert site.call("GET", "/auth/me", headers).status_code == 200
    with stack.client() as c:
        sign_in(c, site.site_id, username, given)
        r = c.get("/agent")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/account?required=password")
        page = c.get("/account")
        assert "Choose your own password to continue" in page.text

    own = f"pw-{uuid.uuid4().hex}"
    r = site.call(
        "POST", "/auth/password", headers, {"current_password": given, "new_password": own}
    )
    assert r.status_code == 204, r.text
    fresh = site.login(username, own)
    assert site.call("GET", "/conversations", fresh).status_code == 200

    # An admin's reset sets the rule again: the admin knows that password too.
    reset = f"pw-{uuid.uuid4().hex}"
    r = site.call("PATCH", f"/users/{user_id}", site.admin, {"password": reset})
    assert r.status_code == 200, r.text
    _error(
        site.call("GET", "/conversations", site.login(username, reset)),
        403,
        "password_change_required",
    )


def test_passwords_the_operator_chose_are_not_flagged(stack: Stack) -> None:
    # `site create`'s first admin: their operator typed the password.
    site = OwnSite.make(stack)
    assert site.call("GET", "/users", site.admin).status_code == 200
    stack.cli("demo", "seed")
    seeded = stack.engines()["app"]
    with seeded.connect() as conn:
        flagged = conn.exec_driver_sql(
            "SELECT count(*) FROM users u JOIN sites s ON s.id = u.site_id "
            "WHERE s.name = 'Demo' AND u.must_change_password"
        ).scalar()
        demo_users = conn.exec_driver_sql(
            "SELECT count(*) FROM users u JOIN sites s ON s.id = u.site_id WHERE s.name = 'Demo'"
        ).scalar()
    seeded.dispose()
    assert demo_users and flagged == 0
