"""The account page (/account) over plain HTTP: signed-in only, every post CSRF-checked
(a forged one changes nothing), pages never cached, and neither the TOTP secret, the
recovery codes nor a password ever reaching the api's log.

Each test signs in on a site of its own, so policies it changes touch no other test.
"""

from __future__ import annotations

import html
import re
import time

import httpx
from support import page_forms
from support.otp import totp
from support.page_forms import hidden
from support.sites import OwnSite
from support.stack import Stack


def sign_in(c: httpx.Client, site: OwnSite, username: str, password: str) -> None:
    page_forms.sign_in(c, site.site_id, username, password)


def account(c: httpx.Client) -> httpx.Response:
    r = c.get("/account")
    assert r.status_code == 200, r.text
    return r


def mfa_enabled(site: OwnSite, user_id: str) -> bool:
    r = site.call("GET", f"/users/{user_id}", site.admin)
    assert r.status_code == 200, r.text
    return bool(r.json()["mfa_enabled"])


def start_setup(c: httpx.Client, password: str) -> tuple[httpx.Response, str]:
    """POST the "Set up" form with the current password; answers the page and its secret."""
    csrf = hidden(account(c).text, "csrf")
    r = c.post("/account/mfa/setup", data={"csrf": csrf, "mfa_current_password": password})
    assert r.status_code == 200, r.text
    return r, hidden(r.text, "secret")


def test_without_a_session_every_account_page_goes_to_sign_in(stack: Stack) -> None:
    with stack.client() as c:
        r = c.get("/account")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=/account"
        for action in (
            "/account/mfa/setup",
            "/account/mfa/confirm",
            "/account/mfa/codes",
            "/account/password",
        ):
            posted = c.post(action, data={"csrf": "1.x"})
            assert posted.status_code == 303, action
            assert posted.headers["location"].startswith("/login?next=")
            # Coming back to a form's action after signing in shows the form.
            opened = c.get(action)
            assert opened.status_code == 303 and opened.headers["location"] == "/account"


def test_the_page_says_who_you_are_and_is_never_cached(stack: Stack) -> None:
    site = OwnSite.make(stack)
    _, username, password = site.user("agent")
    with stack.client() as c:
        sign_in(c, site, username, password)
        r = account(c)
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert f"<dd>{username}</dd>" in r.text
    assert "<dd>Agent</dd>" in r.text
    assert site.site_id in r.text
    assert "<strong>Off.</strong>" in r.text
    assert "Set up two-step sign-in to continue" not in r.text


def test_a_site_that_requires_mfa_shows_the_banner_until_enrolled(stack: Stack) -> None:
    site = OwnSite.make(stack)
    site.policies(mfa_required_roles=["agent"])
    _, username, password = site.user("agent")
    _, manager, manager_password = site.user("manager")
    with stack.client() as c:
        sign_in(c, site, manager, manager_password)
        assert "Set up two-step sign-in to continue" not in account(c).text
        assert c.get("/admin").status_code == 200
    with stack.client() as c:
        sign_in(c, site, username, password)
        # Every other signed-in page sends the user here (test_setup_steps has the rest).
        assert c.get("/agent").headers["location"] == "/account?required=mfa"
        r = c.get("/account?required=mfa")
        assert "Set up two-step sign-in to continue" in r.text
        assert 'id="mfa-required" tabindex="-1" aria-labelledby="mfa-required-title" ' in r.text
        assert "data-focus-on-load" in r.text
        _, secret = start_setup(c, password)
        done = c.post(
            "/account/mfa/confirm",
            data={
                "csrf": hidden(account(c).text, "csrf"),
                "secret": secret,
                "totp": totp(secret, time.time()),
            },
        )
        assert done.status_code == 200, done.text
        after = c.get("/account?required=1")
        assert "Set up two-step sign-in to continue" not in after.text
        assert "<strong>On.</strong>" in after.text
        assert c.get("/agent").status_code == 200


def test_posts_without_the_csrf_token_change_nothing(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user("agent")
    with stack.client() as c:
        sign_in(c, site, username, password)
        r = c.post("/account/mfa/setup", data={})
        assert r.status_code == 403, r.text
        assert "secret" not in r.text.lower()

        _, secret = start_setup(c, password)
        code = totp(secret, time.time())
        for forged in ({}, {"csrf": "1700000000.forged"}):
            r = c.post("/account/mfa/confirm", data={**forged, "secret": secret, "totp": code})
            assert r.status_code == 403, r.text
        assert not mfa_enabled(site, user_id)

        new = "a brand new long password 1"
        r = c.post(
            "/account/password",
            data={"current_password": password, "new_password": new, "confirm_password": new},
        )
        assert r.status_code == 403, r.text
        assert account(c).status_code == 200  # the session lives on
    assert site.token(username, password)
    r = site.login_response(username, new)
    assert r.status_code == 401


def test_setup_secrets_and_passwords_stay_out_of_the_log(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user("agent")
    new = "correct horse battery staple 42"
    with stack.client() as c:
        sign_in(c, site, username, password)
        setup, secret = start_setup(c, password)
        assert setup.headers["cache-control"] == "no-store"
        grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        assert grouped in setup.text
        assert f"secret={secret}" in html.unescape(setup.text)  # the otpauth:// URI, as text

        csrf = hidden(setup.text, "csrf")
        right = totp(secret, time.time())
        wrong = next(
            w
            for w in (f"{(int(right) + n * 111_111) % 10**6:06d}" for n in range(1, 9))
            if w not in {totp(secret, time.time() + d) for d in (-30, 0, 30)}
        )
        again = c.post("/account/mfa/confirm", data={"csrf": csrf, "secret": secret, "totp": wrong})
        assert again.status_code == 422
        assert "That is not the current code" in again.text
        assert 'href="#mfa-code"' in again.text
        assert grouped in again.text  # the same secret, to try again with
        assert not mfa_enabled(site, user_id)

        done = c.post(
            "/account/mfa/confirm",
            data={"csrf": csrf, "secret": secret, "totp": totp(secret, time.time())},
        )
        assert done.status_code == 200, done.text
        assert done.headers["cache-control"] == "no-store"
        codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.text)
        assert len(codes) == 10
        assert mfa_enabled(site, user_id)

        # Refreshing the confirmation shows no codes again.
        repeat = c.post(
            "/account/mfa/confirm", data={"csrf": csrf, "secret": secret, "totp": right}
        )
        assert repeat.status_code == 303
        assert repeat.headers["location"] == "/account?notice=mfa_on"

        changed = c.post(
            "/account/password",
            data={
                "csrf": csrf,
                "current_password": password,
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert changed.status_code == 303
        assert changed.headers["location"] == (
            f"/login?reason=password_changed&site={site.site_id}"
        )
        assert 'sf_session=""' in changed.headers["set-cookie"]
    assert site.token(username, new, codes[0])

    logs = stack.logs()
    for value in (secret, grouped, *codes, password, new, "correct horse"):
        assert value not in logs


def test_password_errors_are_said_in_words(stack: Stack) -> None:
    site = OwnSite.make(stack)
    site.policies(password_min_length=12)
    _, username, password = site.user("agent")
    with stack.client() as c:
        sign_in(c, site, username, password)
        csrf = hidden(account(c).text, "csrf")

        def change(current: str, new: str, confirm: str) -> httpx.Response:
            return c.post(
                "/account/password",
                data={
                    "csrf": csrf,
                    "current_password": current,
                    "new_password": new,
                    "confirm_password": confirm,
                },
            )

        r = change("", "", "")
        assert r.status_code == 422
        for field in ("password-current", "password-new", "password-confirm"):
            assert f'href="#{field}"' in r.text
        r = change(password, "short-1", "short-1")
        assert r.status_code == 422
        assert "at least 12 characters" in r.text
        assert "short-1" not in r.text
        r = change(password, "long enough password", "long enough passwort")
        assert r.status_code == 422
        assert "The two new passwords are not the same." in r.text
        r = change("not-my-password", "long enough password", "long enough password")
        assert r.status_code == 403
        assert "That is not your current password." in r.text
        assert "not-my-password" not in r.text
        r = change(password, username, username)
        assert r.status_code == 422
        assert "must not be the username" in r.text
        assert account(c).status_code == 200  # nothing ended the session
    assert site.token(username, password)


def test_the_account_page_asks_for_the_password_in_words(stack: Stack) -> None:
    site = OwnSite.make(stack)
    _, username, password = site.user("agent")
    with stack.client() as c:
        sign_in(c, site, username, password)
        page = account(c).text
        assert '<label class="label" for="mfa-password">Current password</label>' in page
        assert 'autocomplete="current-password"' in page
        csrf = hidden(page, "csrf")
        empty = c.post("/account/mfa/setup", data={"csrf": csrf})
        assert empty.status_code == 422
        assert 'href="#mfa-password"' in empty.text and "Enter your current password." in empty.text
        assert 'name="secret"' not in empty.text
        wrong = c.post(
            "/account/mfa/setup", data={"csrf": csrf, "mfa_current_password": "not-it-1"}
        )
        assert wrong.status_code == 403
        assert "That is not your current password." in wrong.text
        assert 'id="mfa-password" name="mfa_current_password"' in wrong.text
        assert 'aria-invalid="true"' in wrong.text
        setup = c.post("/account/mfa/setup", data={"csrf": csrf, "mfa_current_password": password})
        assert setup.status_code == 200, setup.text
        secret = hidden(setup.text, "secret")
        done = c.post(
            "/account/mfa/confirm",
            data={"csrf": csrf, "secret": secret, "totp": totp(secret, time.time())},
        )
        assert done.status_code == 200, done.text
        old = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.text)

        page = account(c).text
        assert '<label class="label" for="codes-password">Current password</label>' in page
        refused = c.post("/account/mfa/codes", data={"csrf": csrf})
        assert refused.status_code == 422 and 'href="#codes-password"' in refused.text
        fresh = c.post(
            "/account/mfa/codes", data={"csrf": csrf, "codes_current_password": password}
        )
        assert fresh.status_code == 200, fresh.text
        assert "<h1>New recovery codes</h1>" in fresh.text
        new = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", fresh.text)
        assert len(new) == 10 and not set(new) & set(old)
    for value in (password, secret, *old, *new):
        assert value not in stack.logs()
