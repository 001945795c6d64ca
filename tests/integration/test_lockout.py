"""Lock-out over HTTP against the real api and Redis, and the operator's `secureforms user
enable` run as a process: a stranger's three guesses must not take a site's only admin
away for good, and wrong current passwords count like wrong sign-ins."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from support import redis_dbs
from support.sites import ADMIN_PASSWORD, OwnSite
from support.stack import Stack


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json().get("error")


def test_three_anonymous_requests_lock_the_only_admin_for_30_minutes_only(stack: Stack) -> None:
    site = OwnSite.make(stack)
    answers = [error(site.login_response("admin", "wrong-password-1")) for _ in range(3)]
    assert answers == [(401, "invalid_credentials")] * 2 + [(423, "account_disabled")]
    assert error(site.login_response("admin", ADMIN_PASSWORD)) == (423, "account_disabled")
    # Still enabled, and the session the admin already had goes on working.
    r = site.call("GET", f"/users/{site.admin_id}", site.admin)
    assert r.status_code == 200 and r.json()["enabled"] is True
    store = redis_dbs.client(stack.redis_db)
    lock = f"sf:login-lock:{site.admin_id}"
    assert 1790 <= int(store.ttl(lock)) <= 1800
    (entry,) = site.trail(type="auth.lockout")
    assert entry["resource"].endswith("locked_for=1800s")
    store.pexpire(lock, 1)  # the 30 minutes are over
    time.sleep(0.01)
    assert site.token("admin", ADMIN_PASSWORD)


def test_an_operator_re_enables_a_user_from_the_command_line(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user()
    for _ in range(3):
        site.login_response(username, "wrong-password-1")
    assert error(site.login_response(username, password)) == (423, "account_disabled")

    done = stack.cli("user", "enable", "--site", site.site_id, "--username", username)
    (line,) = done.stdout.splitlines()
    assert json.loads(line) == {
        "site_id": site.site_id,
        "user": {"id": user_id, "username": username, "role": "agent", "enabled": True},
    }
    assert site.token(username, password)
    (entry,) = [e for e in site.trail(type="user.changed") if "by=operator" in e["resource"]]
    assert entry["resource"] == f"user:{user_id};enabled=true;by=operator"

    nobody = stack.cli(
        "user", "enable", "--site", site.site_id, "--username", "nobody", check=False
    )
    assert (nobody.returncode, nobody.stdout) == (1, "")
    assert "No such user on this site." in nobody.stderr
    no_site = stack.cli(
        "user", "enable", "--site", str(uuid.uuid4()), "--username", username, check=False
    )
    assert no_site.returncode == 1 and "No such site." in no_site.stderr
    usage = stack.cli("user", "enable", "--site", site.site_id, check=False)
    assert usage.returncode == 2 and "--username" in usage.stderr


def test_wrong_current_passwords_count_toward_the_limit(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user()
    me = site.login(username, password)
    body = {"current_password": "not-it-at-all-1", "new_password": "brand-new-phrase-1"}
    answers = [error(site.call("POST", "/auth/password", me, body)) for _ in range(3)]
    assert answers == [(403, "wrong_password")] * 2 + [(423, "account_disabled")]
    assert error(site.call("GET", "/auth/me", me)) == (401, "unauthenticated")
    r = site.call("GET", f"/users/{user_id}", site.admin)
    assert r.json()["enabled"] is False
