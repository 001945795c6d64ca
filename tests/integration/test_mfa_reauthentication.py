"""MFA enrolment and new recovery codes ask for the current password again, over the JSON
API and on the /account page, against the real api: a session left open (or stolen) can
neither plant its own authenticator nor mint recovery codes, and guessing the password
through these forms counts toward the failed-login limit. (The page's forms are in
test_account_page.py.)"""

from __future__ import annotations

import time

import httpx
from support.sites import OwnSite
from support.stack import Stack

from core.mfa import totp


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json().get("error")


def test_the_api_asks_for_the_password_before_enrolling(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user()
    me = site.login(username, password)
    assert error(site.call("POST", "/auth/mfa/enroll", me, {})) == (422, "invalid_body")
    wrong = {"current_password": "not-my-password-1"}
    assert error(site.call("POST", "/auth/mfa/enroll", me, wrong)) == (403, "wrong_password")
    enrolled = site.call("POST", "/auth/mfa/enroll", me, {"current_password": password})
    assert enrolled.status_code == 200, enrolled.text
    # The wrong one counted: two more and the account is disabled, this session ended.
    assert error(site.call("POST", "/auth/mfa/enroll", me, wrong)) == (403, "wrong_password")
    assert error(site.call("POST", "/auth/mfa/enroll", me, wrong)) == (423, "account_disabled")
    assert error(site.call("GET", "/auth/me", me)) == (401, "unauthenticated")
    assert site.call("GET", f"/users/{user_id}", site.admin).json()["enabled"] is False


def test_new_recovery_codes_need_the_password_and_retire_the_old_ones(stack: Stack) -> None:
    site = OwnSite.make(stack)
    _, username, password = site.user()
    me = site.login(username, password)
    reauth = {"current_password": password}
    assert error(site.call("POST", "/auth/mfa/recovery-codes", me, reauth)) == (409, "conflict")
    secret = site.call("POST", "/auth/mfa/enroll", me, reauth).json()["secret"]
    confirmed = site.call("POST", "/auth/mfa/confirm", me, {"totp": totp(secret, time.time())})
    old = confirmed.json()["recovery_codes"]
    wrong = {"current_password": "not-my-password-1"}
    r = site.call("POST", "/auth/mfa/recovery-codes", me, wrong)
    assert error(r) == (403, "wrong_password")
    r = site.call("POST", "/auth/mfa/recovery-codes", me, reauth)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    new = r.json()["recovery_codes"]
    assert len(set(new)) == 10 and not set(new) & set(old)
    assert error(site.login_response(username, password, old[0])) == (401, "invalid_credentials")
    assert site.token(username, password, new[0])
    (_entry,) = [
        e for e in site.trail(type="auth.mfa_recovery_codes_reset") if e["outcome"] == "success"
    ]
    assert password not in str(site.trail())
