"""What /openapi.json says about site API keys, and the scope check at the edge, in
process: every endpoint a key may call names the scope it needs, and the endpoints no
scope reaches (reveal, history, users, forms, policies, keys) take no key at all."""

from __future__ import annotations

from typing import Any

from support.inprocess import Api, bearer

from api.endpoints import USER_OR_KEY
from api.routes import load_all
from core.actors import SCOPES


def _operations(api: Api) -> dict[str, dict[str, Any]]:
    document = api.http.get("/openapi.json").json()
    return {
        f"{method.upper()} {path}": op
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }


def test_each_endpoint_a_key_may_call_names_its_scope(api: Api) -> None:
    operations = _operations(api)
    for spec in load_all().specs:
        op = operations[f"{spec.method} {spec.path}"]
        if spec.auth == USER_OR_KEY:
            assert op["x-api-key-scope"] in SCOPES, (spec.method, spec.path)
        else:
            assert "x-api-key-scope" not in op, (spec.method, spec.path)
    send = operations["POST /api/v1/conversations/{conversation_id}/secure-forms"]
    assert send["x-api-key-scope"] == "secure_forms"
    assert operations["POST /api/v1/conversations"]["x-api-key-scope"] == "conversations"


def test_no_scope_reaches_reveal_history_people_forms_policies_or_keys() -> None:
    keyed = {f"{s.method} {s.path}" for s in load_all().specs if s.auth == USER_OR_KEY}
    for words in ("reveal", "history", "/users", "/forms", "/policies", "/api-keys", "/audit"):
        assert not [k for k in keyed if words in k], words
    assert "GET /api/v1/conversations/{conversation_id}/secure-forms" not in keyed  # history


def test_a_key_made_without_scopes_manages_conversations_only(api: Api) -> None:
    key = bearer(api.api_key)
    made = api.http.post("/api/v1/conversations", headers=key, json={})
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    r = api.http.post(
        f"/api/v1/conversations/{cid}/secure-forms", headers=key, json={"form_id": "f"}
    )
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert "secure_forms" in r.json()["message"]
