"""Site API keys with scopes, over HTTP against a real api (issue 12, section 1).

A key does what its scopes allow and nothing else (403 `forbidden`, audited); no scope
reveals, reads history or manages users, forms or policies; admins make, list and delete
keys; every use is audited with the key's name; a deleted key is refused at once (401).
"""

from __future__ import annotations

import json

import pytest
from support.sites import OwnSite
from support.stack import PAYMENT_FORM, Stack


@pytest.fixture
def site(stack: Stack) -> OwnSite:
    return OwnSite.make(stack)


def _error(r: object) -> tuple[int, str]:
    import httpx

    assert isinstance(r, httpx.Response)
    return r.status_code, str(r.json().get("error"))


def test_the_cli_prints_the_key_its_id_and_scopes(site: OwnSite) -> None:
    out = site.stack.cli(
        "site", "api-key", site.site_id, "--name", "Payments bot", "--scope", "secure_forms"
    ).stdout
    made = json.loads(out)
    assert set(made) == {"api_key", "id", "scopes"}
    assert made["api_key"].startswith("sfk_") and made["scopes"] == ["secure_forms"]
    default = json.loads(site.stack.cli("site", "api-key", site.site_id).stdout)
    assert default["scopes"] == ["conversations"]
    bad = site.stack.cli("site", "api-key", site.site_id, "--name", "a;b", check=False)
    assert bad.returncode == 2 and "name" in bad.stderr
    listed = site.call("GET", "/site/api-keys", site.admin).json()["api_keys"]
    assert {k["id"]: k["name"] for k in listed} == {
        made["id"]: "Payments bot",
        default["id"]: "chat platform",
    }
    assert "sfk_" not in json.dumps(listed)  # never a key again


def test_a_key_outside_its_scopes_is_forbidden_and_audited(site: OwnSite) -> None:
    forms_only = site.site_key("secure_forms", name="Forms bot")
    r = site.call("POST", "/conversations", forms_only, {"visitor": {"name": "V"}})
    assert _error(r) == (403, "forbidden")
    assert "conversations" in r.json()["message"]
    chats = site.site_key(name="Chats bot")
    r = site.call("POST", "/conversations", chats, {"visitor": {"name": "V"}})
    assert r.status_code == 201, r.text
    denied = [e["resource"] for e in site.trail(type="access.denied")]
    assert any("key_name=Forms bot" in d and "scope=conversations" in d for d in denied)
    used = [e["resource"] for e in site.trail(type="api_key.used")]
    assert any("key_name=Chats bot" in u and "POST /api/v1/conversations" in u for u in used)


def test_no_scope_reveals_reads_history_or_manages_people_forms_or_policies(
    site: OwnSite,
) -> None:
    every = site.site_key("conversations", "secure_forms", "webhooks")
    some_id = "00000000-0000-4000-8000-000000000000"
    for method, path, body in [
        ("POST", f"/submissions/{some_id}/reveal", {"otk": "x" * 43}),
        ("POST", f"/submissions/{some_id}/retrieve-otk", None),
        ("POST", f"/submissions/{some_id}/history-reveal", None),
        ("GET", f"/conversations/{some_id}/secure-forms", None),
        ("GET", "/users", None),
        ("POST", "/users", {"username": "u", "password": "p" * 12, "role": "agent"}),
        ("POST", "/forms", PAYMENT_FORM),
        ("PUT", "/site/policies", {"link_opens": 5}),
        ("GET", "/site/api-keys", None),
        ("POST", "/site/api-keys", {"name": "mine"}),
        ("GET", "/audit", None),
    ]:
        r = site.call(method, path, every, body)
        assert _error(r) == (403, "forbidden"), (method, path, r.text)


def test_admins_make_list_and_delete_keys_and_a_deleted_key_is_401(site: OwnSite) -> None:
    r = site.call(
        "POST", "/site/api-keys", site.admin, {"name": "Zendesk", "scopes": ["conversations"]}
    )
    assert r.status_code == 201, r.text
    made = r.json()
    key = site.headers(made["api_key"])
    assert site.call("GET", "/conversations", key).status_code == 200
    r = site.call("DELETE", f"/site/api-keys/{made['id']}", site.admin)
    assert r.status_code == 204, r.text
    # The very next request: nothing cached the key.
    assert _error(site.call("GET", "/conversations", key)) == (401, "unauthenticated")
    assert _error(site.call("DELETE", f"/site/api-keys/{made['id']}", site.admin)) == (
        404,
        "not_found",
    )
    types = [e["type"] for e in site.trail(type="api_key.")]
    assert "api_key.created" in types and "api_key.deleted" in types


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "line\nbreak"}, "name"),
        ({"name": "ok", "scopes": []}, "scopes"),
        ({"name": "ok", "scopes": ["admin"]}, "scopes"),
        ({"name": "ok", "scopes": "conversations"}, "scopes"),
    ],
)
def test_a_bad_key_name_or_scope_is_named(
    site: OwnSite, body: dict[str, object], field: str
) -> None:
    r = site.call("POST", "/site/api-keys", site.admin, body)
    assert r.status_code == 422, r.text
    assert field in r.json().get("fields", {}), r.text
    assert site.call("GET", "/site/api-keys", site.admin).json()["api_keys"] == []


def test_a_key_with_webhooks_manages_webhooks_and_no_other_key_does(site: OwnSite) -> None:
    hooks = site.site_key("webhooks", name="Hooks bot")
    r = site.call("GET", "/webhooks", hooks)
    assert r.status_code == 200, r.text
    assert r.json()["webhooks"] == []
    r = site.call("POST", "/webhooks", hooks, {"url": "not a url", "events": []})
    assert r.status_code == 422 and "url" in r.json()["fields"], r.text
    chats = site.site_key("conversations", "secure_forms", name="Chats bot")
    assert _error(site.call("GET", "/webhooks", chats)) == (403, "forbidden")
    # The key manages the webhooks; it still reaches nothing of an admin's.
    assert _error(site.call("GET", "/site/api-keys", hooks)) == (403, "forbidden")
