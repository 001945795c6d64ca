"""Reading our pages' forms and signing in through /login, as a browser without scripts."""

from __future__ import annotations

import html
import re

import httpx


def hidden(page: str, name: str) -> str:
    """The value of a hidden input of the page (a CSRF token, a secret shown once)."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


def post_sign_in(
    c: httpx.Client, site_id: str, username: str, password: str, next_path: str = ""
) -> httpx.Response:
    """Post /login with the form's own CSRF token; the answer as it comes."""
    form = c.get("/login")
    return c.post(
        "/login",
        data={
            "csrf": hidden(form.text, "csrf"),
            "site": site_id,
            "username": username,
            "password": password,
            "next": next_path,
        },
    )


def sign_in(c: httpx.Client, site_id: str, username: str, password: str) -> None:
    """Sign in on /login and land on /account."""
    r = post_sign_in(c, site_id, username, password, "/account")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/account"
