"""The JSON API's edge, in process: how a request is admitted (who, what they sent, whether
they may) and what every answer carries. Behaviour over HTTP only, so the tests hold
whatever shape the dispatcher takes inside."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from support.inprocess import ADMIN_PASSWORD, Api, bearer, session_cookie

LOGIN = "/api/v1/auth/login"
CANARY = "CANARY-4111111111111111"


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]


# -- what every answer carries -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/auth/me", "/api/v1/nowhere", "/login"])
def test_every_answer_carries_the_security_headers(api: Api, path: str) -> None:
    h = api.http.get(path).headers
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["strict-transport-security"].startswith("max-age=")
    assert int(h["strict-transport-security"].split("=")[1].split(";")[0]) >= 31536000
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"


def test_answers_errors_and_pages_are_never_cached(api: Api, admin: str) -> None:
    for r in (
        api.http.get("/api/v1/auth/me", headers=bearer(admin)),
        api.http.get("/api/v1/auth/me"),
        api.http.post(LOGIN, content=b"{"),
        api.http.get("/login"),
        api.http.get("/admin", headers=session_cookie(admin)),
    ):
        assert "no-store" in r.headers["cache-control"], (r.status_code, r.headers)


# -- who is calling ------------------------------------------------------------------------


def test_no_token_and_a_bad_token_are_401(api: Api) -> None:
    assert error(api.http.get("/api/v1/auth/me")) == (401, "unauthenticated")
    for header in ("Bearer not-a-session", "Bearer sfk_not-a-key", "Basic YWRtaW46YWRtaW4="):
        r = api.http.get("/api/v1/auth/me", headers={"Authorization": header})
        assert error(r) == (401, "unauthenticated"), header


def test_a_site_key_reaches_conversations_only(api: Api) -> None:
    key = bearer(api.api_key)
    assert api.http.post("/api/v1/conversations", headers=key, json={}).status_code == 201
    assert error(api.http.get("/api/v1/users", headers=key)) == (403, "forbidden")


def test_an_agent_at_the_admins_door_is_403(api: Api, agent: str) -> None:
    assert error(api.http.get("/api/v1/users", headers=bearer(agent))) == (403, "forbidden")


def test_a_stranger_hears_401_before_anything_about_the_body(api: Api) -> None:
    r = api.http.post("/api/v1/users", content=b"{not json")
    assert error(r) == (401, "unauthenticated")


def test_a_path_that_names_nothing_is_404_and_not_echoed(api: Api, admin: str) -> None:
    for raw in ("%00x", "a%0Ab", "%7F"):
        r = api.http.get(f"/api/v1/users/{raw}", headers=bearer(admin))
        assert error(r) == (404, "not_found"), raw
    r = api.http.get(f"/api/v1/users/{CANARY}", headers=bearer(admin))
    assert error(r) == (404, "not_found")
    assert CANARY not in r.text


def test_unknown_routes_and_methods_are_precise(api: Api, admin: str) -> None:
    assert api.http.get("/api/v1/nowhere").status_code == 404
    assert api.http.delete("/api/v1/auth/me", headers=bearer(admin)).status_code == 405


# -- what they sent ------------------------------------------------------------------------


def test_malformed_json_is_400(api: Api) -> None:
    for raw in (b"{", b"not json", b'{"site_id": "a",}', b"\xff\xfe"):
        r = api.http.post(LOGIN, content=raw, headers={"Content-Type": "application/json"})
        assert error(r) == (400, "malformed_json"), raw


def test_a_body_that_is_not_an_object_is_422(api: Api) -> None:
    for raw in (b"[]", b'"x"', b"3", b"null"):
        assert error(api.http.post(LOGIN, content=raw)) == (422, "invalid_body"), raw


def test_wrong_types_missing_and_unknown_fields_are_named_not_quoted(api: Api) -> None:
    r = api.http.post(LOGIN, json={"site_id": 7, "password": [CANARY], "surprise": CANARY})
    assert error(r) == (422, "invalid_body")
    fields = r.json()["fields"]
    assert set(fields) == {"site_id", "username", "password", "_unknown"}
    assert "surprise" not in fields["_unknown"]  # client input is never repeated
    assert CANARY not in r.text


def test_nul_and_lone_surrogates_are_refused_at_the_edge(api: Api) -> None:
    for text in ("ad\\u0000min", "ad\\ud800min"):
        raw = ('{"site_id": "s", "username": "' + text + '", "password": "p"}').encode()
        assert error(api.http.post(LOGIN, content=raw)) == (422, "invalid_body"), text


def test_a_body_over_the_limit_is_413_declared_or_streamed(api: Api, admin: str) -> None:
    limit = api.settings.max_body_bytes
    big = b'{"username": "' + b"a" * limit + b'"}'
    r = api.http.post("/api/v1/users", headers=bearer(admin), content=big)
    assert error(r) == (413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"username": "'
        for _ in range(limit // 1024 + 2):
            yield b"a" * 1024
        yield b'"}'

    r = api.http.post("/api/v1/users", headers=bearer(admin), content=chunks())
    assert error(r) == (413, "payload_too_large")
    # A body just under the limit is read and judged on what it says.
    fits = b'{"surprise": "' + b"a" * (limit - 100) + b'"}'
    r = api.http.post("/api/v1/users", headers=bearer(admin), content=fits)
    assert error(r) == (422, "invalid_body")


# -- writes made with the pages' session cookie ----------------------------------------------


def _new_user() -> dict[str, str]:
    return {
        "username": f"u-{secrets.token_hex(4)}",
        "password": "pw-long-enough-1",
        "role": "agent",
    }


def test_a_cookie_write_needs_the_pages_csrf_token(api: Api) -> None:
    token = api.login("admin", ADMIN_PASSWORD)
    cookie = session_cookie(token)
    csrf = api.page_csrf(token)

    refused = api.http.post("/api/v1/users", headers=cookie, json=_new_user())
    assert error(refused) == (403, "forbidden")
    forged = api.http.post(
        "/api/v1/users",
        json=_new_user(),
        headers={**cookie, "X-CSRF-Token": "x" * 43},
    )
    assert error(forged) == (403, "forbidden")
    # Reads need no token; a write with the page's token goes through.
    assert api.http.get("/api/v1/auth/me", headers=cookie).status_code == 200
    accepted = api.http.post(
        "/api/v1/users", json=_new_user(), headers={**cookie, "X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 201, accepted.text


def test_a_bearer_write_needs_no_csrf_token(api: Api, admin: str) -> None:
    r = api.http.post("/api/v1/users", headers=bearer(admin), json=_new_user())
    assert r.status_code == 201, r.text
