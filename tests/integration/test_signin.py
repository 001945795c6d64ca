"""Signing in through /login over plain HTTP: errors that say what to fix, a session kept
in an HttpOnly cookie, the JSON API taking that cookie (writes only with the page's CSRF
token), and signing out."""

from __future__ import annotations

import html
import re

import httpx
from support.stack import Stack


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


def meta_csrf(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]*)"', page)
    assert found, "no csrf meta tag in the page"
    return html.unescape(found.group(1))


def sign_in(
    c: httpx.Client, stack: Stack, username: str, password: str, **extra: str
) -> httpx.Response:
    form = c.get("/login")
    assert form.status_code == 200, form.text
    data = {
        "csrf": hidden(form.text, "csrf"),
        "site": stack.site_id,
        "username": username,
        "password": password,
        "next": "",
        **extra,
    }
    return c.post("/login", data=data)


def test_wrong_password_says_so_without_echoing_it(stack: Stack) -> None:
    _, username, _ = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        r = sign_in(c, stack, username, "canary-Wr0ng-pass")
        assert r.status_code == 401
        assert "not right" in r.text
        assert "canary-Wr0ng-pass" not in r.text
        assert username in r.text  # the username is put back; the password never is
        assert "set-cookie" not in r.headers
        assert r.headers["cache-control"] == "no-store"


def test_missing_fields_are_named(stack: Stack) -> None:
    with stack.client() as c:
        form = c.get("/login")
        r = c.post("/login", data={"csrf": hidden(form.text, "csrf"), "site": stack.site_id})
    assert r.status_code == 422
    assert 'href="#login-username"' in r.text and 'href="#login-password"' in r.text
    assert 'id="login-username" name="username"' in r.text


def test_without_the_csrf_token_nothing_happens(stack: Stack) -> None:
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        r = c.post(
            "/login",
            data={"site": stack.site_id, "username": username, "password": password},
        )
    assert r.status_code == 403
    assert "set-cookie" not in r.headers


def test_agent_session_lives_in_an_httponly_cookie_the_api_accepts(stack: Stack) -> None:
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        r = sign_in(c, stack, username, password)
        assert r.status_code == 303
        assert r.headers["location"] == "/agent"
        cookie = r.headers["set-cookie"]
        assert "sf_session=sfs_" in cookie
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()

        me = c.get("/api/v1/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["username"] == username

        # A write with the cookie but without the page's token is refused and does nothing.
        made = c.post("/api/v1/conversations", json={"visitor": {"name": "V"}})
        assert made.status_code == 403, made.text
        assert made.json()["error"] == "forbidden"

        # The token a signed-in page carries makes it go through.
        page = c.get("/login?next=/account", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/account"


def test_the_page_token_lets_cookie_writes_through(stack: Stack) -> None:
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        assert sign_in(c, stack, username, password).status_code == 303
        token = _csrf_for_cookie_session(c)
        made = c.post(
            "/api/v1/conversations",
            json={"visitor": {"name": "V"}},
            headers={"X-CSRF-Token": token},
        )
        assert made.status_code == 201, made.text
        forged = c.post(
            "/api/v1/conversations",
            json={"visitor": {"name": "V"}},
            headers={"X-CSRF-Token": token[:-2] + "xx"},
        )
        assert forged.status_code == 403


def _csrf_for_cookie_session(c: httpx.Client) -> str:
    """The session's CSRF token, as the sign-out form of any signed-in page carries it."""
    for path in ("/agent", "/admin", "/account"):
        r = c.get(path)
        if r.status_code == 200 and 'name="csrf-token"' in r.text:
            return meta_csrf(r.text)
    raise AssertionError("no signed-in page answered with a CSRF token")


def test_sign_out_ends_the_session(stack: Stack) -> None:
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        assert sign_in(c, stack, username, password).status_code == 303
        token = _csrf_for_cookie_session(c)
        out = c.post("/logout", data={"csrf": token})
        assert out.status_code == 303
        assert out.headers["location"] == "/login?reason=signed_out"
        assert c.get("/api/v1/auth/me").status_code == 401
        again = c.get("/login?reason=signed_out")
        assert "You have signed out." in again.text


def test_an_open_redirect_is_not_followed(stack: Stack) -> None:
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        r = sign_in(c, stack, username, password, next="//evil.example/")
        assert r.status_code == 303
        assert r.headers["location"] == "/agent"


def test_a_page_sign_in_is_audited_with_the_client_as_origin(stack: Stack) -> None:
    admin = stack.admin_headers()
    user_id, username, password = stack.new_user(admin)
    with stack.client() as c:
        assert sign_in(c, stack, username, password).status_code == 303
        r = c.get(f"/api/v1/audit?type=auth.login&user_id={user_id}", headers=admin)
    assert r.status_code == 200, r.text
    # The first sign-in (support.stack.choose_own_password, over the API) and this one.
    events = r.json()["events"]
    assert len(events) == 2
    assert {e["origin"] for e in events} == {"127.0.0.1"}


def test_a_sign_in_form_token_works_only_in_the_browser_it_was_given_to(stack: Stack) -> None:
    """Login CSRF: an attacker's own form token, posted from the victim's browser with the
    attacker's credentials, must not sign the victim in as the attacker."""
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as attacker:
        token = hidden(attacker.get("/login").text, "csrf")
    with stack.client() as victim:
        for cookies in ({}, {"sf_login": "the-victims-own-value"}):
            victim.cookies.clear()
            victim.cookies.update(cookies)
            r = victim.post(
                "/login",
                data={
                    "csrf": token,
                    "site": stack.site_id,
                    "username": username,
                    "password": password,
                },
            )
            assert r.status_code == 403, r.text
            assert "sf_session" not in r.headers.get("set-cookie", "")


def test_a_new_sign_in_ends_the_session_it_replaces(stack: Stack) -> None:
    admin = stack.admin_headers()
    _, first, first_password = stack.new_user(admin)
    _, second, second_password = stack.new_user(admin)
    with stack.client() as c:
        other_tab = hidden(c.get("/login").text, "csrf")  # a sign-in form left open
        assert sign_in(c, stack, first, first_password).status_code == 303
        old = c.cookies["sf_session"]
        r = c.post(
            "/login",
            data={
                "csrf": other_tab,
                "site": stack.site_id,
                "username": second,
                "password": second_password,
            },
        )
        assert r.status_code == 303
        assert c.get("/api/v1/auth/me").json()["username"] == second
    with stack.client() as other:
        r = other.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401


def test_a_cross_site_sign_out_clears_nothing(stack: Stack) -> None:
    """A post from another site arrives without our SameSite=Strict cookie: it must not
    delete the victim's cookie (and so strand a session that still lives)."""
    _, username, password = stack.new_user(stack.admin_headers())
    with stack.client() as c:
        assert sign_in(c, stack, username, password).status_code == 303
        token = c.cookies["sf_session"]
    with stack.client() as cross_site:  # no cookies, as a cross-site form post arrives
        r = cross_site.post("/logout", data={})
    assert r.status_code == 303
    assert "set-cookie" not in r.headers
    with stack.client() as c:
        me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
