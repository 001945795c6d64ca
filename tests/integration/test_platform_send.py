"""A chat platform or a bot drives secure forms (issue 12, section 2), over HTTP against a
real api and worker: conversations carry the platform's own id (`external_id`), and a key
with `secure_forms` sends a form for the conversation's agent, who alone can reveal it.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support.flow import card_values
from support.sites import OwnSite
from support.stack import Stack


@pytest.fixture
def site(stack: Stack) -> OwnSite:
    return OwnSite.make(stack)


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, str(r.json().get("error"))


def _start(site: OwnSite, key: dict[str, str], external_id: object) -> httpx.Response:
    body = {"visitor": {"name": "V"}, "external_id": external_id}
    return site.call("POST", "/conversations", key, body)


# -- external_id ---------------------------------------------------------------------------


def test_a_platform_finds_its_conversation_by_its_own_id(site: OwnSite) -> None:
    key = site.site_key()
    ours = f"chatwoot-{uuid.uuid4().hex}"
    r = _start(site, key, ours)
    assert r.status_code == 201, r.text
    assert r.json()["external_id"] == ours
    cid = r.json()["id"]
    _start(site, key, f"other-{uuid.uuid4().hex}")
    found = site.call("GET", f"/conversations?external_id={ours}", key).json()["conversations"]
    assert [(c["id"], c["external_id"]) for c in found] == [(cid, ours)]
    # Found whatever its status, unless the platform asks for one.
    assert site.call("POST", f"/conversations/{cid}/close", key).status_code == 200
    found = site.call("GET", f"/conversations?external_id={ours}", key).json()["conversations"]
    assert [c["id"] for c in found] == [cid]
    r = site.call("GET", f"/conversations?external_id={ours}&status=active", key)
    assert r.json()["conversations"] == []
    assert site.call("GET", f"/conversations/{cid}", key).json()["external_id"] == ours
    none = site.call("GET", "/conversations?external_id=nobody", key).json()["conversations"]
    assert none == []


def test_an_external_id_is_unique_per_site_even_when_raced(site: OwnSite) -> None:
    key = site.site_key()
    ours = f"zendesk-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: _start(site, key, ours), range(4)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 409)
    assert refused.json()["error"] == "conflict" and "external_id" in refused.json()["fields"]
    found = site.call("GET", f"/conversations?external_id={ours}", key).json()["conversations"]
    assert len(found) == 1
    # Another site may use the same id.
    other = OwnSite.make(site.stack)
    assert _start(other, other.site_key(), ours).status_code == 201


@pytest.mark.parametrize(
    ("external_id", "status"), [("", 422), ("x" * 201, 422), ("a\nb", 422), (7, 422)]
)
def test_a_bad_external_id_is_named(site: OwnSite, external_id: object, status: int) -> None:
    key = site.site_key()
    r = _start(site, key, external_id)
    assert r.status_code == status, r.text
    assert "external_id" in r.json().get("fields", {}), r.text
    assert site.call("GET", "/conversations?status=all", key).json()["conversations"] == []


def test_a_bad_external_id_query_is_named(site: OwnSite) -> None:
    key = site.site_key()
    for bad in ("", "x" * 201, "a%00b", "a%0Ab"):
        r = site.call("GET", f"/conversations?external_id={bad}", key)
        assert _error(r) == (422, "invalid_query"), (bad, r.text)
        assert "external_id" in r.json()["fields"]


# -- a key sends for a named agent -----------------------------------------------------------


def _send(
    site: OwnSite, key: dict[str, str], cid: str, form_id: str, agent_id: str | None
) -> httpx.Response:
    body = {"form_id": form_id} | ({"agent_id": agent_id} if agent_id else {})
    return site.call("POST", f"/conversations/{cid}/secure-forms", key, body)


def test_a_bot_sends_for_the_agent_and_only_that_agent_reveals(site: OwnSite) -> None:
    desk = site.desk()
    bot = site.site_key("conversations", "secure_forms", name="Payments bot")
    ours = f"lp-{uuid.uuid4().hex}"
    r = site.call(
        "POST",
        "/conversations",
        bot,
        {"visitor": {"name": "V"}, "agent_id": desk.agent_id, "external_id": ours},
    )
    assert r.status_code == 201, r.text
    # The platform never kept our id: it finds the conversation by its own.
    cid = site.call("GET", f"/conversations?external_id={ours}", bot).json()["conversations"][0][
        "id"
    ]
    r = _send(site, bot, cid, desk.form_id, desk.agent_id)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert set(sent) == {"request_id", "otk", "visitor_url", "expires_at"}
    r = site.call("GET", f"/secure-forms/{sent['request_id']}", bot)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent"
    assert r.json()["sent_by"] == {"kind": "api_key", "name": "Payments bot"}

    with site.stack.client() as c:
        opened = c.post("/api/v1/visitor/open", json={"otk": sent["otk"]})
    assert opened.status_code == 200, opened.text
    assert desk.submit(opened.json()["submit_otk"], card_values()).status_code == 202
    event = desk.wait_submitted(sent["request_id"])
    sid, otk = event["submission_id"], event["retrieve_otk"]

    # The workspace and the audit say who sent it.
    detail = site.call("GET", f"/conversations/{cid}", desk.agent).json()
    assert [f["sent_by"] for f in detail["secure_forms"]] == [
        {"kind": "api_key", "name": "Payments bot"}
    ]
    sent_entries = [e["resource"] for e in site.trail(type="form.sent")]
    assert any(
        sent["request_id"] in e and "key_name=Payments bot" in e and desk.agent_id in e
        for e in sent_entries
    )
    # Neither the key nor another agent reveals; the agent does.
    r = site.call("POST", f"/submissions/{sid}/reveal", bot, {"otk": otk})
    assert _error(r) == (403, "forbidden")
    _, other = site.signed_in("agent")
    r = site.call("POST", f"/submissions/{sid}/reveal", other, {"otk": otk})
    assert _error(r) == (403, "forbidden")
    r = desk.reveal(sid, otk)
    assert r.status_code == 200, r.text
    assert r.json()["values"]["card_number"] == "4242424242424242"

    # History shows who sent it too.
    reviewers = site.profile("manager", ["secure_forms.view_history"])
    _, manager = site.signed_in("manager", reviewers)
    history = site.call("GET", f"/conversations/{cid}/secure-forms", manager).json()
    assert [s["sent_by"] for s in history["submissions"]] == [
        {"kind": "api_key", "name": "Payments bot"}
    ]
    # What the key and the trail can see holds no answer.
    seen = [
        site.call("GET", f"/secure-forms/{sent['request_id']}", bot).text,
        site.call("GET", f"/conversations/{cid}", bot).text,
        site.call("GET", f"/conversations/{cid}/transcript", bot).text,
        json.dumps(site.trail()),
    ]
    for text in seen:
        assert "4242424242424242" not in text and "Ada Lovelace" not in text


def test_each_rule_for_the_named_agent_is_422_and_sends_nothing(site: OwnSite) -> None:
    desk = site.desk()
    bot = site.site_key("conversations", "secure_forms", name="Bot")
    r = site.call("POST", "/conversations", bot, {"agent_id": desk.agent_id})
    cid = r.json()["id"]
    other_id, _ = site.signed_in("agent")
    forwarders = site.profile("agent", ["secure_forms.forward_payments"])
    forwarder_id, _ = site.signed_in("agent", forwarders)
    admin_id = site.admin_id
    r = site.call("POST", "/conversations", bot, {"agent_id": forwarder_id})
    forwarder_cid = r.json()["id"]
    for conversation, agent_id, words in [
        (cid, None, "agent_id is required"),
        (cid, str(uuid.uuid4()), "no enabled agent"),
        (cid, admin_id, "no enabled agent"),
        (cid, other_id, "assigned agent"),
        (forwarder_cid, forwarder_id, "secure_forms.use"),
    ]:
        r = _send(site, bot, conversation, desk.form_id, agent_id)
        assert _error(r) == (422, "agent_not_eligible"), r.text
        assert words in r.json()["message"] and "agent_id" in r.json()["fields"]
    r = site.call("PATCH", f"/users/{desk.agent_id}", site.admin, {"enabled": False})
    assert r.status_code == 200, r.text
    r = _send(site, bot, cid, desk.form_id, desk.agent_id)
    assert "no enabled agent" in r.json()["message"]
    assert [e for e in site.trail(type="form.sent")] == []


def test_a_key_without_secure_forms_cannot_send_or_read_status(site: OwnSite) -> None:
    desk = site.desk()
    chats = site.site_key(name="Chats bot")
    cid = site.call("POST", "/conversations", chats, {"agent_id": desk.agent_id}).json()["id"]
    r = _send(site, chats, cid, desk.form_id, desk.agent_id)
    assert _error(r) == (403, "forbidden")
    sent = desk.send(cid)
    r = site.call("GET", f"/secure-forms/{sent.request_id}", chats)
    assert _error(r) == (403, "forbidden")
    # A secure_forms key reads only what keys sent, never an agent's own request.
    forms = site.site_key("secure_forms", name="Forms bot")
    r = site.call("GET", f"/secure-forms/{sent.request_id}", forms)
    assert _error(r) == (403, "forbidden")
    denied = [e["resource"] for e in site.trail(type="access.denied")]
    assert any("key_name=Chats bot" in d and "scope=secure_forms" in d for d in denied)
