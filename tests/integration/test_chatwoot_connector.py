"""The Chatwoot connector end to end: the api, the worker, the webhooks worker and beat as
separate processes (SQLite, Redis broker), talking to a Chatwoot of the tests' own
(support.chatwoot_api) that checks every call as Chatwoot's API does.

Settings are sealed and never shown; Chatwoot's signed webhooks create, re-assign and
close our conversation; the visitor's link and value-free private notes reach the
Chatwoot conversation, once each, even when Chatwoot was down for a while; refusals
change nothing; no submitted value, masked value or key reaches Chatwoot.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from support.chatwoot_api import Chatwoot, conversation_event, running_chatwoot, signed
from support.flow import Desk, Sent, card_values, luhn_complete
from support.scan import Canary, Scanner
from support.sites import OwnSite
from support.stack import PAYMENT_FORM, Stack

SECRET = "chatwoot-webhook-secret-1"
SAM = 7  # Chatwoot's id of the agent mapped to ours
NOBODY = 99  # a Chatwoot agent with no account here


@pytest.fixture(scope="module")
def cw_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack.running("sqlite", "redis", tmp_path_factory.mktemp("chatwoot")) as stack:
        stack.start_webhook_worker()
        stack.start_beat()
        yield stack


@pytest.fixture
def chatwoot() -> Iterator[Chatwoot]:
    with running_chatwoot(account_id=4) as cw:
        yield cw


@dataclass
class Linked:
    site: OwnSite
    desk: Desk
    chatwoot: Chatwoot
    username: str

    def hook(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        with self.site.stack.client() as c:
            return c.post(
                f"/api/v1/integrations/chatwoot/webhook/{self.site.site_id}",
                content=body,
                headers=headers if headers is not None else signed(SECRET, body),
            )

    def ours(self, number: int) -> dict[str, Any] | None:
        r = self.site.call("GET", f"/conversations?external_id=chatwoot:{number}", self.site.admin)
        assert r.status_code == 200, r.text
        found = r.json()["conversations"]
        return dict(found[0]) if found else None

    def opened(self, first: int) -> tuple[int, dict[str, Any]]:
        """A new Chatwoot conversation (a number from `first` up), assigned to SAM, and
        ours that its webhook made."""
        number = first + uuid.uuid4().int % 10**6
        self.chatwoot.conversations.add(number)
        self.hook(conversation_event("conversation_created", number, assignee=SAM))
        ours = self.ours(number)
        assert ours is not None
        return number, ours


@pytest.fixture
def linked(cw_stack: Stack, chatwoot: Chatwoot) -> Linked:
    site = OwnSite.make(cw_stack)
    agent_id, username, password = site.user("agent")
    form_id = cw_stack.create_form(
        site.admin, {**PAYMENT_FORM, "name": f"pay_{uuid.uuid4().hex[:8]}"}
    )
    desk = Desk(cw_stack, site.admin, form_id, agent_id, site.login(username, password))
    settings = {
        "base_url": chatwoot.base_url,
        "account_id": 4,
        "api_access_token": chatwoot.token,
        "webhook_secret": SECRET,
        "agents": {str(SAM): username},
    }
    r = site.call("PUT", "/site/integrations/chatwoot", site.admin, settings)
    assert r.status_code == 200, r.text
    return Linked(site, desk, chatwoot, username)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:g} s for {what}")


def test_settings_are_sealed_and_checked(linked: Linked) -> None:
    site, cw = linked.site, linked.chatwoot
    r = site.call("GET", "/site/integrations/chatwoot", site.admin)
    assert r.status_code == 200
    shown = r.json()
    assert shown["api_access_token_set"] and shown["webhook_secret_set"]
    assert cw.token not in r.text and SECRET not in r.text
    assert shown["agents"] == {str(SAM): linked.username}
    # What GET answers goes back as it is (token and secret left out keep their value).
    again = {k: shown[k] for k in ("base_url", "account_id", "agents")}
    r = site.call("PUT", "/site/integrations/chatwoot", site.admin, again)
    assert r.status_code == 200 and r.json()["agents"] == shown["agents"], r.text
    assert cw.token not in r.text and SECRET not in r.text
    # A new address needs the token again: the stored one never follows it elsewhere.
    moved = {**again, "base_url": "http://127.0.0.1:9"}
    r = site.call("PUT", "/site/integrations/chatwoot", site.admin, moved)
    assert r.status_code == 422 and "api_access_token" in r.json()["fields"], r.text
    assert cw.token not in r.text and SECRET not in r.text
    for bad, field in (
        ({"account_id": 4, "base_url": cw.base_url, "api_access_token": "t", "x": 1}, "x"),
        ({"account_id": 0, "base_url": cw.base_url}, "account_id"),
        ({"account_id": 2**31, "base_url": cw.base_url}, "account_id"),
        ({"account_id": 4, "base_url": cw.base_url, "agents": {"7": "nobody"}}, "agents"),
        ({"account_id": 4, "base_url": "ftp://chat.example.com"}, "base_url"),
    ):
        r = site.call("PUT", "/site/integrations/chatwoot", site.admin, bad)
        assert r.status_code == 422, r.text
        assert field in r.json()["fields"]
    now = site.call("GET", "/site/integrations/chatwoot", site.admin).json()
    assert {k: v for k, v in now.items() if k != "updated_at"} == {
        k: v for k, v in shown.items() if k != "updated_at"
    }
    for method, body in (("GET", None), ("PUT", again), ("DELETE", None)):
        r = site.call(method, "/site/integrations/chatwoot", linked.desk.agent, body)
        assert r.status_code == 403, (method, r.text)
    assert site.call("GET", "/site/integrations/chatwoot", site.admin).status_code == 200
    # The row that carries Chatwoot's messages is not one of the site's webhooks.
    assert site.call("GET", "/webhooks", site.admin).json() == {"webhooks": []}


def test_a_chatwoot_conversation_from_created_to_resolved(linked: Linked) -> None:
    site, desk, cw = linked.site, linked.desk, linked.chatwoot
    number = 1000 + uuid.uuid4().int % 10**6
    cw.conversations.add(number)

    r = linked.hook(conversation_event("conversation_created", number, assignee=SAM))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "created"
    ours = linked.ours(number)
    assert ours is not None and ours["agent_id"] == desk.agent_id and ours["status"] == "active"
    again = linked.hook(conversation_event("conversation_created", number, assignee=SAM))
    assert again.json() == {"outcome": "unchanged", "conversation_id": ours["id"]}

    # The agent sends: the visitor's link reaches the Chatwoot conversation, once.
    sent = desk.send(ours["id"])
    [link] = cw.wait(number, 1)
    assert link["private"] is False
    assert f"/f/{sent.otk}" in link["content"] and "Payment card" in link["content"]

    card = luhn_complete("4000" + str(time.time_ns())[-8:])
    values = card_values(card=card, cvv="914", name="Canary " + uuid.uuid4().hex)
    assert desk.submit(desk.open(sent), values).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    submitted = cw.wait(number, 2)[1]
    assert submitted["private"] is True and "submitted" in submitted["content"]
    assert desk.reveal(event["submission_id"], event["retrieve_otk"]).status_code == 200
    viewed = cw.wait(number, 3)[2]
    assert viewed["private"] is True and "viewed" in viewed["content"]

    # Assigned in Chatwoot to someone with no account here: ours goes to nobody, and
    # the agent before can send nothing more; back to Sam, and Sam can.
    moved = linked.hook(conversation_event("conversation_updated", number, assignee=NOBODY))
    assert moved.json()["outcome"] == "assigned"
    assert linked.ours(number)["agent_id"] is None  # type: ignore[index]
    r = site.call(
        "POST",
        f"/conversations/{ours['id']}/secure-forms",
        desk.agent,
        {"form_id": desk.form_id},
    )
    assert r.status_code in (403, 422), r.text
    back = linked.hook(conversation_event("conversation_updated", number, assignee=SAM))
    assert back.json()["outcome"] == "assigned"
    assert linked.ours(number)["agent_id"] == desk.agent_id  # type: ignore[index]
    # The "nobody" delivery played again (same delivery id, still in its 5 minutes)
    # changes nothing: it must not undo the assignment that came after it.
    replayed = conversation_event("conversation_updated", number, assignee=NOBODY)
    headers = signed(SECRET, replayed)
    assert linked.hook(replayed, headers).json()["outcome"] == "assigned"
    assert linked.hook(replayed, headers).json() == {"outcome": "unchanged"}
    back = linked.hook(conversation_event("conversation_updated", number, assignee=SAM))
    assert back.json()["outcome"] == "assigned"
    assert linked.hook(replayed, headers).json() == {"outcome": "unchanged"}
    # The delivery id is not signed: played again under another one, or none, the
    # signature still gives it away.
    relabelled = {**headers, "X-Chatwoot-Delivery": str(uuid.uuid4())}
    assert linked.hook(replayed, relabelled).json() == {"outcome": "unchanged"}
    unlabelled = {k: v for k, v in headers.items() if k != "X-Chatwoot-Delivery"}
    assert linked.hook(replayed, unlabelled).json() == {"outcome": "unchanged"}
    assert linked.ours(number)["agent_id"] == desk.agent_id  # type: ignore[index]

    # Resolved in Chatwoot: ours is closed, and its keys are dead.
    later = desk.send(ours["id"])
    cw.wait(number, 4)
    done = linked.hook(
        conversation_event("conversation_status_changed", number, assignee=SAM, status="resolved")
    )
    assert done.json() == {"outcome": "closed", "conversation_id": ours["id"]}
    assert linked.ours(number)["status"] == "closed"  # type: ignore[index]
    with site.stack.client() as c:
        assert c.post("/api/v1/visitor/open", json={"otk": later.otk}).status_code in (404, 410)

    # Nothing submitted, and no key but the visitor's own link, ever reached Chatwoot.
    time.sleep(2)  # any late message would be in by now (the webhooks worker polls each s)
    notes = [m["content"] for m in cw.messages if m["private"]]
    assert all(sent.otk not in n and later.otk not in n for n in notes)
    canaries = [
        Canary("card", card, digits=True),
        Canary("name", values["cardholder"]),
        Canary("retrieve otk", event["retrieve_otk"]),
    ]
    raw = [(f"request {i}", body) for i, (_p, _h, body) in enumerate(cw.requests)]
    hits = Scanner(canaries).scan(raw)
    assert hits == [], "\n".join(map(str, hits))
    messages = cw.of(number)
    assert [m["private"] for m in messages[:4]] == [False, True, True, False]
    assert f"/f/{later.otk}" in messages[3]["content"]
    assert all(m["private"] for m in messages[4:])  # a note of the closed request at most


def test_refused_webhooks_change_nothing(linked: Linked) -> None:
    number = 2000 + uuid.uuid4().int % 10**6
    body = conversation_event("conversation_created", number, assignee=SAM)
    stale = signed(SECRET, body, int(time.time()) - 301)
    wrong = signed("not the secret", body)
    for headers in (stale, wrong, {"Content-Type": "application/json"}):
        r = linked.hook(body, headers)
        assert r.status_code == 401 and r.json()["error"] == "invalid_signature", r.text
    with linked.site.stack.client() as c:
        elsewhere = c.post(
            f"/api/v1/integrations/chatwoot/webhook/{uuid.uuid4()}",
            content=body,
            headers=signed(SECRET, body),
        )
    assert elsewhere.status_code == 401
    assert elsewhere.json() == r.json()  # a prober learns nothing of which sites use it
    # Well past the 5 minutes: a loaded machine may take seconds to deliver it.
    future = linked.hook(body, signed(SECRET, body, int(time.time()) + 360))
    assert (future.status_code, future.json()) == (401, r.json())
    bad_json = b"{not json"
    assert linked.hook(bad_json).status_code == 400
    nameless = json.dumps({"event": "conversation_created"}).encode()
    assert linked.hook(nameless).status_code == 422
    assert linked.ours(number) is None
    other = json.dumps({"event": "message_created", "id": number}).encode()
    assert linked.hook(other).json() == {"outcome": "ignored"}
    assert linked.ours(number) is None

    # Refused events about a conversation we have move or close nothing either.
    kept = number + 1
    assert linked.hook(conversation_event("conversation_created", kept, assignee=SAM)).is_success
    before = linked.ours(kept)
    assert before is not None and before["agent_id"] == linked.desk.agent_id
    resolved = conversation_event(
        "conversation_status_changed", kept, assignee=SAM, status="resolved"
    )
    moved = conversation_event("conversation_updated", kept, assignee=NOBODY)
    forged = signed("not the secret", resolved)
    for event, headers in (
        (resolved, forged),
        (resolved, signed(SECRET, resolved, int(time.time()) - 301)),
        (moved, signed(SECRET, moved, int(time.time()) - 301)),
        (moved, {**signed(SECRET, moved), "X-Chatwoot-Signature": forged["X-Chatwoot-Signature"]}),
        (moved, signed(SECRET, resolved)),  # a signature of another body
    ):
        refused = linked.hook(event, headers)
        assert refused.status_code == 401, refused.text
    after = linked.ours(kept)
    assert after is not None
    assert (after["status"], after["agent_id"]) == ("active", linked.desk.agent_id)


def failed_attempts(stack: Stack, site_id: str) -> int:
    """The site's delivery attempts that did not get through, as the outbox recorded them."""
    engine = stack.engines()["app"]
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d"
                        " ON d.id = a.delivery_id WHERE d.site_id = :site"
                        " AND a.outcome <> 'delivered'"
                    ),
                    {"site": site_id},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("refuse", [False, True], ids=["503", "connection-refused"])
def test_chatwoot_down_delays_the_link_and_loses_nothing(linked: Linked, refuse: bool) -> None:
    desk, cw = linked.desk, linked.chatwoot
    number, ours = linked.opened(3000)
    cw.down(refuse=refuse)
    sent = desk.send(ours["id"])
    wait_for(lambda: failed_attempts(linked.site.stack, linked.site.site_id) >= 2, "two tries")
    assert cw.of(number) == []
    cw.up()
    [link] = cw.wait(number, 1)
    assert f"/f/{sent.otk}" in link["content"] and link["private"] is False
    time.sleep(2)
    assert len(cw.of(number)) == 1  # delivered once, not once per try


def test_resolved_in_chatwoot_kills_an_unread_answers_key(linked: Linked) -> None:
    """The link as the api answered it, once; a note for submitted and one for expired,
    with nothing of the answers; resolved in Chatwoot, the retrieve key reveals nothing."""
    site, desk, cw = linked.site, linked.desk, linked.chatwoot
    number, ours = linked.opened(4000)
    r = site.call(
        "POST", f"/conversations/{ours['id']}/secure-forms", desk.agent, {"form_id": desk.form_id}
    )
    assert r.status_code == 201, r.text
    sent = Sent(ours["id"], r.json()["request_id"], r.json()["otk"])
    [link] = cw.wait(number, 1)
    assert link["private"] is False and r.json()["visitor_url"] in link["content"]

    card = luhn_complete("5100" + str(time.time_ns())[-8:])
    values = card_values(card=card, cvv="381", name="Canary " + uuid.uuid4().hex)
    assert desk.submit(desk.open(sent), values).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    submitted = cw.wait(number, 2)[1]
    assert submitted["private"] is True and "submitted" in submitted["content"]

    # A second request runs out (its deadline moved into the past): a note says so.
    other = desk.send(ours["id"])
    cw.wait(number, 3)
    engines = site.stack.engines()
    try:
        with engines["app"].begin() as conn:
            conn.execute(
                sa.text("UPDATE form_requests SET expires_at = :past WHERE id = :id"),
                {"past": datetime.now(UTC) - timedelta(seconds=1), "id": other.request_id},
            )
    finally:
        for engine in engines.values():
            engine.dispose()
    r = site.call("GET", f"/secure-forms/{other.request_id}", desk.agent)
    assert r.status_code == 200 and r.json()["status"] == "expired", r.text
    expired = cw.wait(number, 4)[3]
    assert expired["private"] is True and "expired" in expired["content"]

    done = linked.hook(
        conversation_event("conversation_status_changed", number, assignee=SAM, status="resolved")
    )
    assert done.json() == {"outcome": "closed", "conversation_id": ours["id"]}
    assert linked.ours(number)["status"] == "closed"  # type: ignore[index]
    reveal = desk.reveal(event["submission_id"], event["retrieve_otk"])
    assert reveal.status_code in (409, 410), reveal.text
    assert card not in reveal.text and values["cardholder"] not in reveal.text

    time.sleep(2)  # a late note would be in by now
    messages = cw.of(number)
    assert [m["private"] for m in messages] == [False, True, False, True]  # no "viewed"
    canaries = [
        Canary("card", card, digits=True),
        Canary("name", values["cardholder"]),
        Canary("retrieve otk", event["retrieve_otk"]),
        Canary("link key", sent.otk),
    ]
    notes = [(f"note {i}", m["content"].encode()) for i, m in enumerate(messages) if m["private"]]
    raw = [(f"request {i}", body) for i, (_p, _h, body) in enumerate(cw.requests)]
    hits = Scanner(canaries[:3]).scan(raw) + Scanner(canaries).scan(notes)
    assert hits == [], "\n".join(map(str, hits))


def test_removing_chatwoot_drops_what_waits_for_it(linked: Linked) -> None:
    site, desk, cw = linked.site, linked.desk, linked.chatwoot
    number, ours = linked.opened(5000)
    cw.down()
    desk.send(ours["id"])
    wait_for(lambda: failed_attempts(site.stack, site.site_id) >= 1, "a try")
    r = site.call("DELETE", "/site/integrations/chatwoot", site.admin)
    assert r.status_code == 204, r.text
    assert [e["type"] for e in site.trail(type="chatwoot.removed")] == ["chatwoot.removed"]
    cw.up()
    for method in ("GET", "DELETE"):
        r = site.call(method, "/site/integrations/chatwoot", site.admin)
        assert r.status_code == 404, (method, r.text)
    # Its secret is gone with it: Chatwoot's webhooks are refused as any unsigned one.
    again = conversation_event("conversation_updated", number, assignee=NOBODY)
    r = linked.hook(again)
    assert r.status_code == 401 and r.json()["error"] == "invalid_signature", r.text
    assert linked.ours(number)["agent_id"] == desk.agent_id  # type: ignore[index]
    # The conversation is no longer relayed: the agent still sends, Chatwoot hears nothing.
    desk.send(ours["id"])
    time.sleep(4)  # past the test settings' retry schedule (1, 2, 3 s) and the 1 s poll
    assert cw.of(number) == []
    assert all("/f/" not in m["content"] for m in cw.messages)
