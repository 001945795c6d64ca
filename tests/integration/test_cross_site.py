"""A valid token of one site gets nothing of another, on every endpoint.

The endpoints are not hand-picked: the walk reads GET /openapi.json and, for every
operation that takes a token, sends one of site B's tokens (admin, agent, a manager who
may read history, a site API key) with site A's ids in the path and in the body. Where an
operation names a resource, the answer must be 403 or 404; where it names none (lists,
"me"), what comes back must hold nothing of site A. Afterwards site A is checked to be
exactly as it was: the walk changed, spent and revealed nothing of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support.flow import Desk, card_values
from support.sites import API, OwnSite
from support.stack import PAYMENT_FORM, Stack

# Path parameters that name something global rather than a site's resource.
GLOBAL_PARAMS = {"template"}
# Body fields that name a site's resource: filled with site A's ids.
REFERENCES = {"form_id": "form_id", "agent_id": "agent_id", "profile_id": "profile_id"}


@dataclass
class Victim:
    """Site A and one of each of its resources."""

    tenant: OwnSite
    desk: Desk
    ids: dict[str, str]
    retrieve_otk: str
    manager: dict[str, str]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    schema: dict[str, Any] | None

    @property
    def params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]

    @property
    def references(self) -> list[str]:
        return [name for name in (self.schema or {}).get("properties", {}) if name in REFERENCES]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _route_table(stack: Stack) -> list[Op]:
    with stack.client() as c:
        doc = c.get("/openapi.json").json()
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if "security" not in op:
                continue  # public: no token to be of another site (OTKs are tested elsewhere)
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ops.append(Op(method.upper(), path, body.get("schema")))
    return ops


@pytest.fixture(scope="module")
def victim(stack: Stack) -> Victim:
    tenant = OwnSite.make(stack)
    definition = {**PAYMENT_FORM, "name": f"payment_{uuid.uuid4().hex[:8]}"}
    form_id = stack.create_form(tenant.admin, definition)
    agent_id, agent = tenant.signed_in("agent")
    desk = Desk(stack, tenant.admin, form_id, agent_id, agent)
    sent = desk.send()
    assert desk.submit(desk.open(sent), card_values(cvv="731")).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    history = tenant.profile("manager", ["secure_forms.view_history"])
    _, manager = tenant.signed_in("manager", history)
    key = tenant.call("POST", f"{API}/site/api-keys", tenant.admin, {"name": "platform A"})
    assert key.status_code == 201, key.text
    hook = tenant.call(
        "POST",
        f"{API}/webhooks",
        tenant.admin,
        {"url": "http://127.0.0.1:9/hook", "events": ["secure_form.sent"]},
    )
    assert hook.status_code == 201, hook.text
    return Victim(
        tenant,
        desk,
        {
            "conversation_id": sent.conversation_id,
            "request_id": sent.request_id,
            "submission_id": event["submission_id"],
            "form_id": form_id,
            "user_id": agent_id,
            "agent_id": agent_id,
            "profile_id": history,
            "key_id": key.json()["id"],
            "webhook_id": hook.json()["id"],
        },
        event["retrieve_otk"],
        manager,
    )


@pytest.fixture(scope="module")
def intruders(stack: Stack) -> Iterator[dict[str, dict[str, str]]]:
    tenant = OwnSite.make(stack)
    history = tenant.profile("manager", ["secure_forms.view_history"])
    yield {
        "admin": tenant.admin,
        "agent": tenant.signed_in("agent")[1],
        "manager": tenant.signed_in("manager", history)[1],
        "site_key": tenant.site_key(),
    }


def _body(op: Op, victim: Victim) -> Any:
    """A body that would be accepted, but for naming site A's resources."""
    if op.schema is None:
        return None
    if "properties" not in op.schema:  # free-form: a form definition
        return {**PAYMENT_FORM, "name": f"intruder_{uuid.uuid4().hex[:8]}"}
    plausible: dict[str, Any] = {
        "otk": victim.retrieve_otk,
        "text": "hello",
        "visitor": {"name": "V"},
        "username": f"intruder-{uuid.uuid4().hex[:6]}",
        "password": f"pw-{uuid.uuid4().hex}",
        "role": "agent",
        "name": f"intruder-{uuid.uuid4().hex[:6]}",
        "permissions": [],
        "enabled": False,
        "display_name": "intruder",
    }
    body: dict[str, Any] = {}
    for name, prop in op.schema["properties"].items():
        if name in REFERENCES:
            body[name] = victim.ids[REFERENCES[name]]
        elif name in plausible:
            body[name] = plausible[name]
        elif name in op.schema.get("required", []):
            kind = prop["type"] if isinstance(prop["type"], str) else prop["type"][0]
            body[name] = {"string": "x", "integer": 1, "boolean": True, "array": []}.get(kind, {})
    return body


def _leaks(r: httpx.Response, victim: Victim) -> list[str]:
    secrets = {**victim.ids, "retrieve_otk": victim.retrieve_otk, "site_id": victim.tenant.site_id}
    found = [name for name, value in secrets.items() if value in r.text]
    found += [v for v in ("4242424242424242", "Ada Lovelace") if v in r.text]
    return found


@pytest.fixture(scope="module")
def walk(stack: Stack, victim: Victim, intruders: dict[str, dict[str, str]]) -> list[str]:
    """Every operation, every intruder; answers the problems found (none, it is hoped)."""
    ops = _route_table(stack)
    named = [op for op in ops if op.params or op.references]
    assert len(named) >= 20, [str(op) for op in named]
    for must in (
        "POST /api/v1/submissions/{submission_id}/reveal",
        "POST /api/v1/submissions/{submission_id}/history-reveal",
        "GET /api/v1/conversations/{conversation_id}/secure-forms",
        "PATCH /api/v1/users/{user_id}",
        "PATCH /api/v1/profiles/{profile_id}",
    ):
        assert must in {str(op) for op in named}, must
    problems: list[str] = []
    for op in ops:
        unknown = set(op.params) - set(victim.ids) - GLOBAL_PARAMS
        assert not unknown, f"{op}: which site's resource is {unknown}? add it to the walk"
        path = op.path
        for name in op.params:
            if name in victim.ids:
                path = path.replace("{" + name + "}", victim.ids[name])
        names_a_resource = bool(set(op.params) & set(victim.ids)) or bool(op.references)
        if not names_a_resource and op.method != "GET":
            continue  # it acts on the caller's own site or self: nothing of A to aim at
        for who, headers in intruders.items():
            r = victim.tenant.call(op.method, path, headers, _body(op, victim))
            where = f"{op} as {who} of B"
            if r.status_code >= 500:
                problems.append(f"{where}: {r.status_code}")
            elif names_a_resource:
                code = r.json().get("error") if r.status_code >= 400 else None
                refused = r.status_code in (403, 404) and code in ("forbidden", "not_found")
                # A profile named in a body is refused as not being one of this site's.
                refused |= (r.status_code, code) == (422, "invalid_profile")
                if not refused:
                    problems.append(f"{where}: {r.status_code} {r.text[:160]}")
            if leaked := _leaks(r, victim):
                problems.append(f"{where}: the answer holds site A's {leaked}")
    return problems


def test_no_token_of_another_site_reaches_anything_of_this_one(walk: list[str]) -> None:
    assert not walk, "\n".join(walk)


def test_site_a_is_untouched_by_the_walk(walk: list[str], victim: Victim) -> None:
    t, ids = victim.tenant, victim.ids
    me = victim.desk.agent
    # The retrieve key was neither spent nor revoked, and the answers are all there.
    r = victim.desk.reveal(ids["submission_id"], victim.retrieve_otk)
    assert r.status_code == 200, r.text
    assert r.json()["values"]["card_number"] == "4242424242424242"
    assert r.json()["off_the_record"] == {"cvv": "731"}
    status = t.call("GET", f"{API}/secure-forms/{ids['request_id']}", me).json()["status"]
    assert status == "viewed"
    transcript = t.call("GET", f"{API}/conversations/{ids['conversation_id']}/transcript", me)
    assert transcript.status_code == 200
    assert all(m["text"] != "hello" for m in transcript.json()["messages"])
    user = t.call("GET", f"{API}/users/{ids['user_id']}", t.admin).json()
    assert user["enabled"] is True and user["display_name"] == "agent"
    profile = t.call("GET", f"{API}/profiles/{ids['profile_id']}", t.admin).json()
    assert profile["permissions"] == ["secure_forms.view_history"]
    form = t.call("GET", f"{API}/forms/{ids['form_id']}", me)
    assert form.status_code == 200 and form.json()["version"] == 1
    keys = t.call("GET", f"{API}/site/api-keys", t.admin).json()["api_keys"]
    assert ids["key_id"] in [k["id"] for k in keys]
    hooks = t.call("GET", f"{API}/webhooks", t.admin).json()["webhooks"]
    assert [h["id"] for h in hooks] == [ids["webhook_id"]]
    # The intruders' refused attempts were recorded on their own site, not on A's.
    trail = t.call("GET", f"{API}/audit?limit=1000", t.admin).json()["events"]
    assert not [e for e in trail if e["type"] == "access.denied"]
    history = t.call(
        "POST", f"{API}/submissions/{ids['submission_id']}/history-reveal", victim.manager
    )
    assert history.status_code == 200 and "cvv" not in history.json()["values"]
