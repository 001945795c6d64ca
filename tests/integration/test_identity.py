"""Who may see what, over HTTP against the real api, worker and Redis: lock-out and
re-enabling, unknown users that answer like wrong passwords, the idle timeout, MFA with
recovery codes, profiles and permissions, engagement history, the password and session
rules, and the bounds of the site policies.

Every test makes a site of its own (`secureforms site create`), so changing its policies
touches nobody else's tests.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
import uuid

import httpx
import pytest
from support.flow import Desk, card_values
from support.otp import totp
from support.shown import shows
from support.sites import API, OwnSite
from support.stack import Stack


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json().get("error")


def submitted(desk: Desk) -> tuple[str, str, str]:
    """(conversation id, submission id, retrieve key) of a form that went the whole way."""
    sent = desk.send()
    assert desk.submit(desk.open(sent), card_values(cvv="987")).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    return sent.conversation_id, event["submission_id"], event["retrieve_otk"]


# -- log-in, lock-out, unknown users ------------------------------------------------------


def test_the_failed_login_limit_disables_until_an_admin_re_enables(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user()
    live = site.login(username, password)
    answers = [error(site.login_response(username, "wrong-password")) for _ in range(3)]
    assert answers == [(401, "invalid_credentials")] * 2 + [(423, "account_disabled")]
    assert error(site.login_response(username, password)) == (423, "account_disabled")
    assert error(site.call("GET", "/auth/me", live)) == (401, "unauthenticated")
    listed = {u["id"]: u for u in site.call("GET", "/users", site.admin).json()["users"]}
    assert listed[user_id]["enabled"] is False

    r = site.call("PATCH", f"/users/{user_id}", site.admin, {"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True
    token = site.token(username, password)
    assert site.call("GET", "/auth/me", site.headers(token)).json()["id"] == user_id


def test_an_unknown_user_answers_exactly_like_a_wrong_password(stack: Stack) -> None:
    site = OwnSite.make(stack)
    _, username, _ = site.user()

    def answers(who: str) -> list[tuple[int, bytes, dict[str, str]]]:
        out = []
        for _ in range(4):
            r = site.login_response(who, "wrong-password")
            # X-Request-Id is new for every request, whoever asks: it tells nothing.
            varying = ("date", "content-length", "x-request-id")
            headers = {k: v for k, v in r.headers.items() if k not in varying}
            out.append((r.status_code, r.content, headers))
        return out

    known, unknown = answers(username), answers(f"nobody-{uuid.uuid4().hex[:6]}")
    assert known == unknown
    assert [status for status, _, _ in known] == [401, 401, 423, 423]
    # An unknown site answers the same as well.
    r = site.call(
        "POST",
        "/auth/login",
        body={"site_id": str(uuid.uuid4()), "username": username, "password": "wrong-password"},
    )
    assert (r.status_code, r.content) == known[0][:2]


def test_log_in_attempts_are_rate_limited_per_address(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with Stack.running(
        "sqlite",
        "redis",
        tmp_path_factory.mktemp("ratelimit"),
        worker=False,
        SECUREFORMS_LOGIN_RATE_PER_MINUTE="3",
    ) as private:
        body = {"site_id": private.site_id, "username": "admin", "password": "wrong-password"}
        with private.client() as c:
            # A window is a minute: however the minute falls, eight tries see a refusal.
            statuses = [c.post(f"{API}/auth/login", json=body) for _ in range(8)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert limited[0].json()["error"] == "rate_limited"
        assert int(limited[0].headers["retry-after"]) in range(1, 61)
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=private.base_url, transport=other, timeout=30) as c:
            # Another account: this one is now held back from every address (per account).
            r = c.post(f"{API}/auth/login", json={**body, "username": "someone-else"})
        assert r.status_code == 401, r.text  # another address is not held back


# -- sessions ------------------------------------------------------------------------------


def test_an_idle_session_is_logged_out_server_side(stack: Stack) -> None:
    site = OwnSite.make(stack)
    site.policies(idle_timeout_s=2)  # seconds are allowed only in the test environment
    _, username, password = site.user()
    r = site.login_response(username, password)
    assert r.json()["idle_timeout_s"] == 2
    me = site.headers(r.json()["token"])
    assert site.call("GET", "/auth/me", me).status_code == 200
    time.sleep(4)
    assert error(site.call("GET", "/auth/me", me)) == (401, "session_expired")
    assert error(site.call("GET", "/auth/me", me)) == (401, "unauthenticated")  # gone for good
    assert site.token(username, password)


def test_disabling_or_a_new_password_ends_every_session_at_once(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password = site.user()
    tokens = [site.login(username, password) for _ in range(3)]
    r = site.call(
        "POST",
        "/auth/password",
        tokens[0],
        {"current_password": password, "new_password": "a-new-pass-phrase-1"},
    )
    assert r.status_code == 204, r.text
    for token in tokens:
        assert error(site.call("GET", "/auth/me", token)) == (401, "unauthenticated")
    assert error(site.login_response(username, password)) == (401, "invalid_credentials")

    tokens = [site.login(username, "a-new-pass-phrase-1") for _ in range(2)]
    assert (
        site.call("PATCH", f"/users/{user_id}", site.admin, {"enabled": False}).status_code == 200
    )
    for token in tokens:
        assert error(site.call("GET", "/auth/me", token)) == (401, "unauthenticated")
    assert error(site.login_response(username, "a-new-pass-phrase-1")) == (423, "account_disabled")


def test_passwords_keep_to_the_sites_policy(stack: Stack) -> None:
    site = OwnSite.make(stack)
    site.policies(password_min_length=14)

    def create(username: str, password: str) -> httpx.Response:
        return site.call(
            "POST",
            "/users",
            site.admin,
            {"username": username, "password": password, "role": "agent"},
        )

    for username, password in (
        ("ada", "only-13-chars"),
        ("ada-lovelace-1815", "Ada-Lovelace-1815"),
        ("ada", "Qwertyuiop123456"),
    ):
        r = create(username, password)
        assert error(r) == (422, "password_policy"), r.text
        assert set(r.json()["fields"]) == {"password"}
        assert password not in r.text
    r = create("ada", "first-pass-phrase-1")
    assert r.status_code == 201, r.text
    me = site.login("ada", "first-pass-phrase-1")
    history = ["first-pass-phrase-1"] + [f"pass-phrase-no-{i}" for i in range(2, 6)]
    for old, new in itertools.pairwise(history):
        me = site.login("ada", old)
        r = site.call("POST", "/auth/password", me, {"current_password": old, "new_password": new})
        assert r.status_code == 204, r.text
    me = site.login("ada", history[-1])
    r = site.call(
        "POST", "/auth/password", me, {"current_password": history[-1], "new_password": history[2]}
    )
    assert error(r) == (422, "password_policy") and "last 4" in r.json()["message"]
    r = site.call(
        "POST",
        "/auth/password",
        me,
        {"current_password": "not-my-password", "new_password": "x" * 20},
    )
    assert error(r) == (403, "wrong_password")


# -- MFA -----------------------------------------------------------------------------------


def test_mfa_enrolment_log_in_with_and_without_a_code_and_recovery_codes(stack: Stack) -> None:
    site = OwnSite.make(stack)
    _, username, password = site.user()
    me = site.login(username, password)
    enrolled = site.call("POST", "/auth/mfa/enroll", me, {"current_password": password})
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    secret = enrolled.json()["secret"]
    assert enrolled.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={secret}" in enrolled.json()["otpauth_uri"]
    # Not on until confirmed with a right code.
    assert site.token(username, password)
    wrong = str((int(totp(secret, time.time())) + 500_000) % 10**6).zfill(6)
    assert error(site.call("POST", "/auth/mfa/confirm", me, {"totp": wrong})) == (
        422,
        "invalid_totp",
    )
    confirmed = site.call("POST", "/auth/mfa/confirm", me, {"totp": totp(secret, time.time())})
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10

    assert error(site.login_response(username, password)) == (401, "mfa_required")
    # The confirmation spent this step; the next is inside the accepted window.
    code = totp(secret, time.time() + 30)
    assert site.token(username, password, code)
    assert error(site.login_response(username, password, code)) == (401, "invalid_credentials")

    assert site.token(username, password, codes[0])
    assert error(site.login_response(username, password, codes[0])) == (401, "invalid_credentials")
    assert site.token(username, password, codes[1])
    me = site.login(username, password, codes[2])
    assert site.call("GET", "/auth/me", me).json()["mfa_enabled"] is True
    again = site.call("POST", "/auth/mfa/enroll", me, {"current_password": password})
    assert error(again) == (409, "conflict")


def test_a_role_that_must_use_mfa_reveals_nothing_until_enrolled(stack: Stack) -> None:
    site = OwnSite.make(stack)
    agent_id, username, password = site.user("agent")
    desk = dataclasses.replace(site.desk(), agent_id=agent_id, agent=site.login(username, password))
    _, submission_id, retrieve_otk = submitted(desk)
    site.policies(mfa_required_roles=["agent"])  # from now on the agent reaches nothing else
    r = desk.reveal(submission_id, retrieve_otk)
    assert error(r) == (403, "mfa_enrollment_required"), r.text
    assert not shows(r.text, "4242", "4242424242424242")
    # Enrolling in this very session is enough; the key was not spent by the refusal.
    reauth = {"current_password": password}
    secret = site.call("POST", "/auth/mfa/enroll", desk.agent, reauth).json()["secret"]
    r = site.call("POST", "/auth/mfa/confirm", desk.agent, {"totp": totp(secret, time.time())})
    assert r.status_code == 200, r.text
    r = desk.reveal(submission_id, retrieve_otk)
    assert r.status_code == 200, r.text
    assert r.json()["values"]["card_number"] == "4242424242424242"


# -- profiles and permissions ----------------------------------------------------------------


def test_an_agent_without_secure_forms_use_cannot_send(stack: Stack) -> None:
    site = OwnSite.make(stack)
    desk = site.desk()
    quiet = site.profile("agent", [], name="Agents without secure forms")
    _, username, password = site.user("agent", profile_id=quiet)
    headers = site.login(username, password)
    assert site.call("GET", "/auth/me", headers).json()["permissions"] == []
    conversation_id = desk.conversation(headers)
    r = site.call(
        "POST", f"/conversations/{conversation_id}/secure-forms", headers, {"form_id": desk.form_id}
    )
    assert error(r) == (403, "forbidden")
    assert "otk" not in r.json()
    # The default agent profile may; taking the permission away works on the live session.
    desk.send()
    default_agent = next(
        p
        for p in site.call("GET", "/profiles", site.admin).json()["profiles"]
        if p["role"] == "agent" and p["is_default"]
    )
    r = site.call("PATCH", f"/profiles/{default_agent['id']}", site.admin, {"permissions": []})
    assert r.status_code == 200, r.text
    conversation_id = desk.conversation()
    r = site.call(
        "POST",
        f"/conversations/{conversation_id}/secure-forms",
        desk.agent,
        {"form_id": desk.form_id},
    )
    assert error(r) == (403, "forbidden")


def test_a_manager_needs_view_history_and_then_sees_stored_values_only(stack: Stack) -> None:
    site = OwnSite.make(stack)
    desk = site.desk()
    conversation_id, submission_id, _ = submitted(desk)
    assert (
        site.call("POST", f"/conversations/{conversation_id}/close", desk.agent).status_code == 200
    )

    manager_id, username, password = site.user("manager")
    manager = site.login(username, password)
    assert error(site.call("GET", f"/conversations/{conversation_id}/secure-forms", manager)) == (
        403,
        "forbidden",
    )
    r = site.call("POST", f"/submissions/{submission_id}/history-reveal", manager)
    assert error(r) == (403, "forbidden") and not shows(r.text, "4242", "4242424242424242")

    reviewers = site.profile("manager", ["secure_forms.view_history"], name="History reviewers")
    r = site.call("PATCH", f"/users/{manager_id}", site.admin, {"profile_id": reviewers})
    assert r.status_code == 200 and r.json()["permissions"] == ["secure_forms.view_history"]
    listed = site.call("GET", f"/conversations/{conversation_id}/secure-forms", manager)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["submissions"]
    assert (item["submission_id"], item["agent_id"]) == (submission_id, desk.agent_id)
    assert item["form"]["title"] == "Payment card" and item["submitted_at"]
    assert not shows(listed.text, "4242", "4242424242424242")
    r = site.call("POST", f"/submissions/{submission_id}/history-reveal", manager)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.json()["values"] == {
        "cardholder": "Ada Lovelace",
        "card_number": "4242424242424242",
        "expiry": "12/34",
    }
    assert "cvv" not in r.json()["values"] and not shows(json.dumps(r.json()["values"]), "987")
    # Another agent may not use history, whatever they send.
    r = site.call("POST", f"/submissions/{submission_id}/history-reveal", desk.agent)
    assert error(r) == (403, "forbidden")


def test_profiles_keep_to_their_role(stack: Stack) -> None:
    site = OwnSite.make(stack)
    r = site.call(
        "POST",
        "/profiles",
        site.admin,
        {"name": "Odd", "role": "agent", "permissions": ["secure_forms.view_history"]},
    )
    assert error(r) == (422, "invalid_profile") and set(r.json()["fields"]) == {"permissions"}
    agents = site.profile("agent", [], name="Quiet agents")
    manager_id, _, _ = site.user("manager")
    r = site.call("PATCH", f"/users/{manager_id}", site.admin, {"profile_id": agents})
    assert error(r) == (422, "invalid_profile") and set(r.json()["fields"]) == {"profile_id"}
    r = site.call("PATCH", f"/profiles/{agents}", site.admin, {"role": "manager"})
    assert error(r) == (422, "invalid_profile")
    _, username, password = site.user("agent")
    agent = site.login(username, password)
    for method, path, body in (
        ("GET", "/profiles", None),
        ("POST", "/profiles", {"name": "Mine", "role": "agent", "permissions": []}),
        ("PATCH", f"/profiles/{agents}", {"permissions": ["secure_forms.use"]}),
        ("GET", "/site/policies", None),
        ("PUT", "/site/policies", {"idle_timeout_s": 900}),
        ("GET", "/users", None),
        ("GET", "/audit", None),
    ):
        assert error(site.call(method, path, agent, body)) == (403, "forbidden"), path


# -- site policies ---------------------------------------------------------------------------


def test_site_policies_have_defaults_and_refuse_unsafe_values_by_name(stack: Stack) -> None:
    site = OwnSite.make(stack)
    r = site.call("GET", "/site/policies", site.admin)
    assert r.status_code == 200
    assert r.json() == {
        "password_min_length": 12,
        "failed_login_limit": 3,
        "idle_timeout_s": 900,
        "idle_action": "logout",
        "retention_days": 395,
        "off_record_ttl_s": 300,
        "link_opens": 1,
        "mfa_required_roles": [],
        "frame_ancestors": [],
        "agent_frame_ancestors": [],
        "default_language": "en",
    }
    for name, bad in (
        ("password_min_length", 6),
        ("failed_login_limit", 0),
        ("failed_login_limit", 11),
        ("idle_timeout_s", 901),
        ("idle_timeout_s", 0),
        ("idle_action", "lock"),
        ("retention_days", 0),
        ("off_record_ttl_s", 0),
        ("mfa_required_roles", ["agent", "superuser"]),
        ("frame_ancestors", ["http://chat.example.com"]),
        ("frame_ancestors", ["https://chat.example.com/embed"]),
        ("default_language", "xx"),
    ):
        r = site.call("PUT", "/site/policies", site.admin, {name: bad})
        assert r.status_code == 422, (name, bad, r.text)
        assert name in r.json()["fields"], r.text
    r = site.call("PUT", "/site/policies", site.admin, {"idle_timeout_s": "900"})
    assert error(r) == (422, "invalid_body") and "idle_timeout_s" in r.json()["fields"]
    assert site.call("GET", "/site/policies", site.admin).json()["idle_timeout_s"] == 900
    changed = site.policies(
        password_min_length=7,
        failed_login_limit=10,
        retention_days=30,
        off_record_ttl_s=120,
        # Not "admin": this admin, not enrolled, would then reach nothing but enrolment.
        mfa_required_roles=["manager", "agent"],
        frame_ancestors=["https://chat.example.com"],
    )
    assert changed["mfa_required_roles"] == ["agent", "manager"]
    assert changed["frame_ancestors"] == ["https://chat.example.com"]
    assert site.call("GET", "/site/policies", site.admin).json() == changed
