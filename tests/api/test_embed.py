"""The agent's panel for a chat console's sidebar (/embed/agent), in-process: who may frame
it, its cookies, its sign-in, and the conversations it refuses in words. The browser
test (tests/browser/test_embed_panel.py) runs the same panel inside a real frame."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from support.inprocess import Api, bearer, choose_own_password

from api.pages.embed import _cookies_note
from core.policies import PolicyOutOfBounds, SitePolicies, validated

CONSOLE = "https://chat.example.com"


@pytest.fixture(scope="module")
def framed_site(api: Api, admin: str) -> Iterator[str]:
    r = api.http.put(
        "/api/v1/site/policies", headers=bearer(admin), json={"agent_frame_ancestors": [CONSOLE]}
    )
    assert r.status_code == 200, r.text
    yield f"/embed/agent/{api.site_id}"
    api.http.put("/api/v1/site/policies", headers=bearer(admin), json={"agent_frame_ancestors": []})


def _set_cookie(r: object, name: str) -> str:
    found = [c for c in r.headers.get_list("set-cookie") if c.startswith(f"{name}=")]  # type: ignore[attr-defined]
    assert len(found) == 1, r.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return found[0]


def _user(api: Api, admin: str, role: str) -> tuple[str, str, str]:
    username, password = f"{role}-{secrets.token_hex(4)}", f"pw-{secrets.token_hex(8)}"
    r = api.http.post(
        "/api/v1/users",
        headers=bearer(admin),
        json={"username": username, "password": password, "role": role},
    )
    assert r.status_code == 201, r.text
    return (
        str(r.json()["id"]),
        username,
        choose_own_password(api.http, api.site_id, username, password),
    )


def _signed_in(api: Api, panel: str, username: str, password: str, next_path: str) -> str:
    """Sign in through the panel's form; the panel's session cookie as the browser sends it."""
    page = api.http.get(panel)
    binding = _set_cookie(page, "sf_panel_login").split(";", 1)[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = api.http.post(
        f"{panel}/login",
        headers={"Cookie": binding},
        data={
            "csrf": csrf.group(1),
            "site": api.site_id,
            "username": username,
            "password": password,
            "next": next_path,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    assert r.headers["location"] == next_path if next_path.startswith(panel) else panel
    session = _set_cookie(r, "sf_panel")
    for attribute in ("HttpOnly", "SameSite=none", "Secure", "Partitioned", "Path=/"):
        assert attribute in session, session
    return session.split(";", 1)[0]


def test_only_the_allowed_console_may_frame_the_panel(api: Api, framed_site: str) -> None:
    r = api.http.get(framed_site)
    assert r.status_code == 200
    assert r.headers["content-security-policy"].endswith(f"frame-ancestors {CONSOLE}")
    assert "x-frame-options" not in r.headers
    assert "Sign in to Secure forms" in r.text
    login = _set_cookie(r, "sf_panel_login")
    assert "SameSite=none" in login and "Partitioned" in login and "Secure" in login
    for other in ("/login", "/agent", "/admin"):
        csp = api.http.get(other, follow_redirects=False).headers["content-security-policy"]
        assert csp.endswith("frame-ancestors 'none'"), other
    unknown = api.http.get("/embed/agent/no-such-site")
    assert unknown.status_code == 404
    assert unknown.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert "names no site" in unknown.text


def test_the_panel_shows_only_the_assigned_agents_conversation(
    api: Api, admin: str, framed_site: str
) -> None:
    agent_id, username, password = _user(api, admin, "agent")
    other_id, _, _ = _user(api, admin, "agent")
    # Another console than Chatwoot names its conversation in the URL (?external_id=).
    mine, theirs = f"console:{secrets.token_hex(6)}", f"console:{secrets.token_hex(6)}"
    for external, owner, name in ((mine, agent_id, "Vera"), (theirs, other_id, "Otto")):
        r = api.http.post(
            "/api/v1/conversations",
            headers=bearer(admin),
            json={"visitor": {"name": name}, "agent_id": owner, "external_id": external},
        )
        assert r.status_code == 201, r.text
    wanted = f"{framed_site}?external_id={mine.replace(':', '%3A')}"
    cookie = {"Cookie": _signed_in(api, framed_site, username, password, wanted)}

    shown = api.http.get(wanted, headers=cookie)
    assert shown.status_code == 200
    assert "Conversation with <strong>Vera</strong>" in shown.text
    assert 'id="send-form"' in shown.text
    assert shown.headers["content-security-policy"].endswith(f"frame-ancestors {CONSOLE}")
    assert 'name="csrf-token"' in shown.text  # the scripts' writes carry the session's token

    refused = api.http.get(f"{framed_site}?external_id={theirs}", headers=cookie)
    assert "not assigned to you" in refused.text
    assert 'id="send-form"' not in refused.text and "Otto" not in refused.text
    unknown = api.http.get(f"{framed_site}?external_id=chatwoot:1", headers=cookie)
    assert "does not know this conversation" in unknown.text
    waiting = api.http.get(framed_site, headers=cookie)
    assert "Waiting for your chat console" in waiting.text

    # The panel's cookie is a session like any other: the API answers it, as this agent.
    me = api.http.get("/api/v1/auth/me", headers=cookie)
    assert me.status_code == 200 and me.json()["id"] == agent_id


def test_a_sign_in_goes_nowhere_but_the_panel_and_is_for_agents(
    api: Api, admin: str, framed_site: str
) -> None:
    _, username, password = _user(api, admin, "agent")
    _signed_in(api, framed_site, username, password, "/admin")  # `next` elsewhere: the panel
    _, manager, manager_password = _user(api, admin, "manager")
    page = api.http.get(framed_site)
    binding = _set_cookie(page, "sf_panel_login").split(";", 1)[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = api.http.post(
        f"{framed_site}/login",
        headers={"Cookie": binding},
        data={"csrf": csrf.group(1), "username": manager, "password": manager_password},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "This panel is for the agents of this site" in r.text
    assert not [c for c in r.headers.get_list("set-cookie") if c.startswith("sf_panel=")]

    page = api.http.get(framed_site)
    binding = _set_cookie(page, "sf_panel_login").split(";", 1)[0]
    r = api.http.post(
        f"{framed_site}/login",
        headers={"Cookie": binding},
        data={"csrf": "forged", "site": api.site_id, "username": username, "password": password},
        follow_redirects=False,
    )
    assert r.status_code == 403
    # Refused in words inside the frame, not by the browser's own blocked page.
    assert r.headers["content-security-policy"].endswith(f"frame-ancestors {CONSOLE}")
    assert "x-frame-options" not in r.headers
    assert not [c for c in r.headers.get_list("set-cookie") if c.startswith("sf_panel=")]


def test_the_panel_says_when_its_cookies_cannot_work() -> None:
    assert _cookies_note("https://forms.example.com") is None
    local = _cookies_note("http://127.0.0.1:8000")
    assert local is not None and local["kind"] == "info"
    remote = _cookies_note("http://forms.example.com")
    assert remote is not None and remote["kind"] == "error"
    assert "cannot work" in remote["text"] and "https" in remote["text"]


def test_consoles_allowed_to_frame_the_panel_follow_the_origin_rules() -> None:
    allowed = validated(
        SitePolicies(), {"agent_frame_ancestors": ["https://*.example.com", "https://a.io/"]}
    )
    assert allowed.agent_frame_ancestors == ("https://*.example.com", "https://a.io")
    local = validated(
        SitePolicies(), {"agent_frame_ancestors": ["http://localhost:8080"]}, loopback_http=True
    )
    assert local.agent_frame_ancestors == ("http://localhost:8080",)
    for bad in (["http://localhost:8080"], ["https://*.co.uk"], ["https://a.io/path"], "x"):
        with pytest.raises(PolicyOutOfBounds) as refused:
            validated(SitePolicies(), {"agent_frame_ancestors": bad})
        assert refused.value.fields is not None and "agent_frame_ancestors" in refused.value.fields


def test_chatwoot_ids_are_the_connectors_alone(api: Api, admin: str) -> None:
    # Else an agent could name a Chatwoot conversation not theirs and have the service
    # post into it with the site's token.
    for external in ("chatwoot:12", "Chatwoot:12", "chatwoot:012"):
        r = api.http.post(
            "/api/v1/conversations",
            headers=bearer(admin),
            json={"visitor": {"name": "V"}, "external_id": external},
        )
        assert r.status_code == 422, r.text
        assert "external_id" in r.json()["fields"]


def test_an_unfinished_setup_is_finished_in_the_workspace_first(
    api: Api, admin: str, framed_site: str
) -> None:
    username, password = f"agent-{secrets.token_hex(4)}", f"pw-{secrets.token_hex(8)}"
    r = api.http.post(
        "/api/v1/users",
        headers=bearer(admin),
        json={"username": username, "password": password, "role": "agent"},
    )
    assert r.status_code == 201, r.text
    cookie = {"Cookie": _signed_in(api, framed_site, username, password, framed_site)}
    r = api.http.get(f"{framed_site}?external_id=console:x", headers=cookie)
    assert "Choose your own in the Secure forms workspace first" in r.text
    assert 'id="workspace"' not in r.text


def test_a_console_on_the_same_site_keeps_the_panel_on_its_own_session(
    api: Api, admin: str, framed_site: str
) -> None:
    # chat.corp.example and forms.corp.example are one site: the browser sends the
    # workspace's cookie into the frame too. The panel, and its calls, use their own.
    agent_id, username, password = _user(api, admin, "agent")
    _, other, other_password = _user(api, admin, "agent")
    panel = _signed_in(api, framed_site, username, password, framed_site)
    workspace = f"sf_session={api.login(other, other_password)}"
    both = {"Cookie": f"{workspace}; {panel}"}
    shown = api.http.get(framed_site, headers=both)
    assert "Waiting for your chat console" in shown.text
    assert f'content="/embed/agent/{api.site_id}"' in shown.text  # its sign-in, if it ends
    as_panel = api.http.get("/api/v1/auth/me", headers={**both, "X-Secureforms-Panel": "1"})
    assert as_panel.json()["id"] == agent_id
    assert api.http.get("/api/v1/auth/me", headers=both).json()["id"] != agent_id
