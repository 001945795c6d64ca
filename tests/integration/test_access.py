"""Who may reveal (API.md), over HTTP against a real api and a real worker.

Only the agent who sent the form; not another agent viewing the chat, not an agent the
chat was transferred to, not after the conversation closed, not with an OTK of another
site or action. Around that: who may send at all, what a site API key may do, what a
missing or garbage token gets, and that one OTK raced by twenty clients opens once.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support.flow import Desk, Sent, card_values, luhn_complete
from support.shown import shows
from support.stack import PAYMENT_FORM, Stack, choose_own_password

API = "/api/v1"


# -- helpers -------------------------------------------------------------------------------


@dataclass
class Done:
    """A secure form that went the whole way: sent, opened, submitted, stored."""

    sent: Sent
    submission_id: str
    retrieve_otk: str


def submitted(desk: Desk, conversation_id: str | None = None) -> Done:
    sent = desk.send(conversation_id)
    r = desk.submit(desk.open(sent), card_values())
    assert r.status_code == 202, r.text
    event = desk.wait_submitted(sent.request_id)
    return Done(sent, event["submission_id"], event["retrieve_otk"])


def call(
    stack: Stack,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    with stack.client() as c:
        return c.request(method, API + path, headers=headers or {}, json=body)


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.text}"
    body = r.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]


def assert_revealed(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    assert r.json()["values"]["card_number"] == "4242424242424242"


def add_participant(desk: Desk, conversation_id: str, agent_id: str) -> None:
    r = call(
        desk.stack,
        "POST",
        f"/conversations/{conversation_id}/participants",
        desk.agent,
        {"agent_id": agent_id},
    )
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Desk:
    return Desk.make(stack)


@dataclass
class OtherSite:
    site_id: str
    admin: dict[str, str]
    desk: Desk


def login_on(stack: Stack, site_id: str, username: str, password: str) -> dict[str, str]:
    with stack.client() as c:
        r = c.post(
            f"{API}/auth/login",
            json={"site_id": site_id, "username": username, "password": password},
        )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
def other_site(stack: Stack) -> OtherSite:
    """A second tenant on the same service, with its own admin, form and agent."""
    admin_password = f"admin-pw-{uuid.uuid4().hex}"
    site_id = stack.create_site("admin", admin_password)["site_id"]
    assert site_id != stack.site_id
    admin = login_on(stack, site_id, "admin", admin_password)
    form_id = stack.create_form(admin, PAYMENT_FORM)
    username, password = f"agent-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    r = call(
        stack,
        "POST",
        "/users",
        admin,
        {"username": username, "password": password, "role": "agent"},
    )
    assert r.status_code == 201, r.text
    with stack.client() as c:
        password = choose_own_password(c, site_id, username, password)
    agent = login_on(stack, site_id, username, password)
    return OtherSite(site_id, admin, Desk(stack, admin, form_id, r.json()["id"], agent))


# -- another agent viewing the chat --------------------------------------------------------


def test_a_participant_can_neither_reveal_nor_burn_the_senders_key(
    stack: Stack, desk: Desk
) -> None:
    done = submitted(desk)
    viewer_id, viewer = stack.new_agent(desk.admin)
    add_participant(desk, done.sent.conversation_id, viewer_id)

    # The viewer sees the chat...
    transcript = call(
        stack, "GET", f"/conversations/{done.sent.conversation_id}/transcript", viewer
    )
    assert transcript.status_code == 200, transcript.text
    assert not shows(transcript.text, "4242", "4242424242424242")
    # ...but not the answers, with the sender's own key or a key of their own.
    assert_error(desk.reveal(done.submission_id, done.retrieve_otk, viewer), 403, "forbidden")
    r = call(stack, "POST", f"/submissions/{done.submission_id}/retrieve-otk", viewer)
    assert_error(r, 403, "forbidden")
    assert "otk" not in r.json()
    assert_error(
        call(stack, "GET", f"/secure-forms/{done.sent.request_id}", viewer), 403, "forbidden"
    )
    # Nor may they send a form into a chat they only view.
    r = call(
        stack,
        "POST",
        f"/conversations/{done.sent.conversation_id}/secure-forms",
        viewer,
        {"form_id": desk.form_id},
    )
    assert_error(r, 403, "forbidden")

    # The refusals did not spend the sender's key.
    assert_revealed(desk.reveal(done.submission_id, done.retrieve_otk))


# -- transfer ------------------------------------------------------------------------------


def test_after_a_transfer_neither_the_sender_nor_the_new_agent_may_reveal(
    stack: Stack, desk: Desk
) -> None:
    done = submitted(desk)
    new_id, new_agent = stack.new_agent(desk.admin)
    r = call(
        stack,
        "POST",
        f"/conversations/{done.sent.conversation_id}/transfer",
        desk.agent,
        {"agent_id": new_id},
    )
    assert r.status_code == 200, r.text
    assert r.json()["agent_id"] == new_id

    for who in (desk.agent, new_agent):
        assert_error(desk.reveal(done.submission_id, done.retrieve_otk, who), 403, "forbidden")
        r = call(stack, "POST", f"/submissions/{done.submission_id}/retrieve-otk", who)
        assert_error(r, 403, "forbidden")

    # The new agent is assigned now: they may send a form of their own; the sender may not.
    cid = done.sent.conversation_id
    r = call(
        stack, "POST", f"/conversations/{cid}/secure-forms", desk.agent, {"form_id": desk.form_id}
    )
    assert_error(r, 403, "forbidden")
    r = call(
        stack, "POST", f"/conversations/{cid}/secure-forms", new_agent, {"form_id": desk.form_id}
    )
    assert r.status_code == 201, r.text


# -- close ---------------------------------------------------------------------------------


def test_after_close_nothing_is_revealed_and_nothing_new_is_sent(stack: Stack, desk: Desk) -> None:
    done = submitted(desk)
    cid = done.sent.conversation_id
    pending = desk.send(cid)  # a link the visitor has not opened yet
    r = call(stack, "POST", f"/conversations/{cid}/close", desk.agent)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"

    # API.md's reveal row lists 403 and 410 only; the app answers 409 conversation_closed,
    # the code API.md gives for sending into a closed conversation.
    assert_error(desk.reveal(done.submission_id, done.retrieve_otk), 409, "conversation_closed")
    r = call(stack, "POST", f"/submissions/{done.submission_id}/retrieve-otk", desk.agent)
    assert_error(r, 409, "conversation_closed")
    r = call(
        stack, "POST", f"/conversations/{cid}/secure-forms", desk.agent, {"form_id": desk.form_id}
    )
    assert_error(r, 409, "conversation_closed")
    r = call(stack, "POST", f"/conversations/{cid}/messages", desk.agent, {"text": "still there?"})
    assert_error(r, 409, "conversation_closed")
    # The outstanding link died with the conversation.
    with stack.client() as c:
        assert_error(
            c.post(f"{API}/visitor/open", json={"otk": pending.otk}), 410, "invalid_or_expired"
        )


# -- OTKs of another action ----------------------------------------------------------------


def test_an_open_or_submit_key_never_reveals_and_is_not_spent_trying(
    stack: Stack, desk: Desk
) -> None:
    done = submitted(desk)
    fresh = desk.send(done.sent.conversation_id)

    r = desk.reveal(done.submission_id, fresh.otk)
    assert_error(r, 410, "invalid_or_expired")
    submit_otk = desk.open(fresh)  # the open key still opens
    assert_error(desk.reveal(done.submission_id, submit_otk), 410, "invalid_or_expired")
    assert desk.submit(submit_otk, card_values()).status_code == 202  # and submit still submits
    desk.wait_submitted(fresh.request_id)

    assert_revealed(desk.reveal(done.submission_id, done.retrieve_otk))


def test_a_retrieve_key_never_opens_submits_or_extends(stack: Stack, desk: Desk) -> None:
    done = submitted(desk)
    with stack.client() as c:
        for path, body in (
            ("/visitor/open", {"otk": done.retrieve_otk}),
            ("/visitor/submit", {"otk": done.retrieve_otk, "values": card_values()}),
            ("/visitor/extend", {"otk": done.retrieve_otk}),
        ):
            assert_error(c.post(API + path, json=body), 410, "invalid_or_expired")
    assert_revealed(desk.reveal(done.submission_id, done.retrieve_otk))


def test_a_retrieve_key_of_one_submission_never_reveals_another(stack: Stack, desk: Desk) -> None:
    a = submitted(desk)
    b = submitted(desk, a.sent.conversation_id)
    assert_error(desk.reveal(b.submission_id, a.retrieve_otk), 410, "invalid_or_expired")
    assert_error(desk.reveal(a.submission_id, b.retrieve_otk), 410, "invalid_or_expired")
    assert_revealed(desk.reveal(a.submission_id, a.retrieve_otk))
    assert_revealed(desk.reveal(b.submission_id, b.retrieve_otk))


# -- another site --------------------------------------------------------------------------


def _refused(r: httpx.Response) -> None:
    """Every query is scoped by the caller's site: another site's things do not exist for
    them (404), which also says nothing about whether they exist at all."""
    where = f"{r.request.method} {r.request.url.path}: {r.text}"
    assert (r.status_code, r.json()["error"]) == (404, "not_found"), where
    assert not shows(r.text, "4242", "4242424242424242")


def test_an_agent_of_another_site_sees_nothing_of_this_one(
    stack: Stack, desk: Desk, other_site: OtherSite
) -> None:
    done = submitted(desk)
    cid, sid = done.sent.conversation_id, done.submission_id
    them = other_site.desk.agent

    _refused(desk.reveal(sid, done.retrieve_otk, them))
    _refused(call(stack, "POST", f"/submissions/{sid}/retrieve-otk", them))
    _refused(call(stack, "GET", f"/secure-forms/{done.sent.request_id}", them))
    _refused(call(stack, "GET", f"/conversations/{cid}/transcript", them))
    _refused(call(stack, "POST", f"/conversations/{cid}/messages", them, {"text": "hi"}))
    _refused(
        call(stack, "POST", f"/conversations/{cid}/secure-forms", them, {"form_id": desk.form_id})
    )
    _refused(
        call(stack, "POST", f"/conversations/{cid}/participants", them, {"agent_id": desk.agent_id})
    )
    _refused(
        call(stack, "POST", f"/conversations/{cid}/transfer", them, {"agent_id": desk.agent_id})
    )
    _refused(call(stack, "POST", f"/conversations/{cid}/close", them))
    _refused(call(stack, "GET", f"/forms/{desk.form_id}", them))
    # This site's form in their own conversation: not theirs to send.
    their_cid = other_site.desk.conversation()
    r = call(
        stack, "POST", f"/conversations/{their_cid}/secure-forms", them, {"form_id": desk.form_id}
    )
    _refused(r)
    # Their admin can't touch this site's users or erase this site's answers.
    _refused(call(stack, "PATCH", f"/users/{desk.agent_id}", other_site.admin, {"enabled": False}))
    _refused(call(stack, "DELETE", f"/conversations/{cid}/secure-forms", other_site.admin))

    # None of it touched the conversation or spent the key.
    assert call(stack, "GET", f"/conversations/{cid}/transcript", desk.agent).status_code == 200
    assert_revealed(desk.reveal(sid, done.retrieve_otk))


def test_a_retrieve_key_of_one_site_never_reveals_on_another(
    stack: Stack, desk: Desk, other_site: OtherSite
) -> None:
    ours = submitted(desk)
    theirs = submitted(other_site.desk)

    # Their agent, their submission, our key: the key is of another site.
    r = other_site.desk.reveal(theirs.submission_id, ours.retrieve_otk)
    assert (r.status_code, r.json()["error"]) == (410, "invalid_or_expired"), r.text
    assert not shows(r.text, "4242", "4242424242424242")
    # Our agent, their submission, their key: not ours to see.
    _refused(desk.reveal(theirs.submission_id, theirs.retrieve_otk))

    assert_revealed(desk.reveal(ours.submission_id, ours.retrieve_otk))
    assert_revealed(other_site.desk.reveal(theirs.submission_id, theirs.retrieve_otk))


# -- who may send, and who is anyone at all ------------------------------------------------


def test_an_admin_cannot_send_a_secure_form(stack: Stack, desk: Desk) -> None:
    # The admin may open a conversation for an agent, but sending needs secure_forms.use.
    r = call(
        stack,
        "POST",
        "/conversations",
        desk.admin,
        {"visitor": {"name": "V"}, "agent_id": desk.agent_id},
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = call(
        stack, "POST", f"/conversations/{cid}/secure-forms", desk.admin, {"form_id": desk.form_id}
    )
    assert_error(r, 403, "forbidden")
    # Nor read answers: the admin is not the sender.
    done = submitted(desk, cid)
    assert_error(desk.reveal(done.submission_id, done.retrieve_otk, desk.admin), 403, "forbidden")
    assert_revealed(desk.reveal(done.submission_id, done.retrieve_otk))


def test_an_agent_not_assigned_cannot_send(stack: Stack, desk: Desk) -> None:
    cid = desk.conversation()
    _, stranger = stack.new_agent(desk.admin)
    r = call(
        stack, "POST", f"/conversations/{cid}/secure-forms", stranger, {"form_id": desk.form_id}
    )
    assert_error(r, 403, "forbidden")
    assert "otk" not in r.json()


def _agent_operations(desk: Desk, done: Done) -> list[tuple[str, str, dict[str, Any] | None]]:
    cid, sid = done.sent.conversation_id, done.submission_id
    return [
        ("GET", "/forms", None),
        ("POST", "/conversations", {"visitor": {"name": "V"}}),
        ("POST", f"/conversations/{cid}/messages", {"text": "hello"}),
        ("GET", f"/conversations/{cid}/transcript", None),
        ("POST", f"/conversations/{cid}/secure-forms", {"form_id": desk.form_id}),
        ("GET", f"/secure-forms/{done.sent.request_id}", None),
        ("GET", "/agent/events?after=0&wait=0", None),
        ("POST", f"/submissions/{sid}/retrieve-otk", None),
        ("POST", f"/submissions/{sid}/reveal", {"otk": done.retrieve_otk}),
    ]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Token sfs_" + "x" * 43,
        "Bearer garbage",
        "Bearer sfs_" + "x" * 43,
        "Bearer sfk_" + "x" * 43,
        "Basic YWRtaW46YWRtaW4=",
        "Bearer " + "sfs_" + "y" * 5000,
    ],
    ids=["none", "bare", "other-scheme", "garbage", "fake-session", "fake-key", "basic", "huge"],
)
def test_agent_endpoints_need_a_real_token(
    stack: Stack, desk: Desk, authorization: str | None
) -> None:
    done = submitted(desk)
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path, body in _agent_operations(desk, done):
        r = call(stack, method, path, headers, body)
        assert_error(r, 401, "unauthenticated")
    # Nothing above spent the key.
    assert_revealed(desk.reveal(done.submission_id, done.retrieve_otk))


def test_visitor_endpoints_need_no_token(stack: Stack, desk: Desk) -> None:
    sent = desk.send()
    with stack.client() as c:
        r = c.post(f"{API}/visitor/open", json={"otk": sent.otk})
        assert r.status_code == 200, r.text
        assert "token" not in r.json()
        r = c.post(f"{API}/visitor/extend", json={"otk": r.json()["submit_otk"]})
        assert r.status_code == 200, r.text
        r = c.post(
            f"{API}/visitor/submit", json={"otk": r.json()["submit_otk"], "values": card_values()}
        )
        assert r.status_code == 202, r.text
    desk.wait_submitted(sent.request_id)


def test_a_logged_out_token_is_refused(stack: Stack, desk: Desk) -> None:
    _, agent = stack.new_agent(desk.admin)
    assert call(stack, "GET", "/forms", agent).status_code == 200
    assert call(stack, "POST", "/auth/logout", agent).status_code == 204
    assert_error(call(stack, "GET", "/forms", agent), 401, "unauthenticated")


# -- site API keys -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site_key(stack: Stack) -> dict[str, str]:
    key = json.loads(stack.cli("site", "api-key", stack.site_id).stdout)["api_key"]
    return {"Authorization": f"Bearer {key}"}


def test_a_site_key_manages_conversations(
    stack: Stack, desk: Desk, site_key: dict[str, str]
) -> None:
    r = call(
        stack,
        "POST",
        "/conversations",
        site_key,
        {"visitor": {"name": "Bot visitor"}, "agent_id": desk.agent_id},
    )
    assert r.status_code == 201, r.text
    assert r.json()["agent_id"] == desk.agent_id
    cid = r.json()["id"]
    r = call(stack, "POST", f"/conversations/{cid}/messages", site_key, {"text": "hello from bot"})
    assert r.status_code == 201, r.text
    r = call(stack, "GET", f"/conversations/{cid}/transcript", site_key)
    assert r.status_code == 200, r.text
    assert "hello from bot" in [m["text"] for m in r.json()["messages"]]
    # The assigned agent takes it from there.
    done = submitted(desk, cid)
    assert_revealed(desk.reveal(done.submission_id, done.retrieve_otk))


def test_a_site_key_never_touches_forms_users_or_answers(
    stack: Stack, desk: Desk, site_key: dict[str, str]
) -> None:
    done = submitted(desk)
    cid, sid = done.sent.conversation_id, done.submission_id
    for method, path, body in [
        ("POST", "/forms", PAYMENT_FORM),
        ("GET", "/users", None),
        ("POST", "/users", {"username": "bot-made", "password": "pw-" + "x" * 20, "role": "admin"}),
        ("POST", f"/conversations/{cid}/secure-forms", {"form_id": desk.form_id}),
        ("GET", f"/secure-forms/{done.sent.request_id}", None),
        ("POST", f"/submissions/{sid}/retrieve-otk", None),
        ("POST", f"/submissions/{sid}/reveal", {"otk": done.retrieve_otk}),
        ("GET", "/agent/events?after=0", None),
        ("DELETE", f"/conversations/{cid}/secure-forms", None),
    ]:
        r = call(stack, method, path, site_key, body)
        assert_error(r, 403, "forbidden")
        assert not shows(r.text, "4242", "4242424242424242")
    assert_revealed(desk.reveal(sid, done.retrieve_otk))


# -- the transcript never holds a card number ----------------------------------------------


def test_a_card_number_typed_into_the_chat_is_masked(
    stack: Stack, desk: Desk, site_key: dict[str, str]
) -> None:
    cid = desk.conversation()
    card = luhn_complete("4000")
    spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    dashed = "-".join(card[i : i + 4] for i in range(0, 16, 4))
    for headers, text in (
        (desk.agent, f"my card is {card}, thanks"),
        (desk.agent, f"again: {spaced}"),
        (site_key, f"bot relays {dashed}."),
    ):
        r = call(stack, "POST", f"/conversations/{cid}/messages", headers, {"text": text})
        assert r.status_code == 201, r.text
        assert card not in r.text and spaced not in r.text and dashed not in r.text
        assert "•••• " + card[-4:] in r.json()["text"]
        assert r.json()["card_number_masked"] is True
    r = call(stack, "GET", f"/conversations/{cid}/transcript", desk.agent)
    assert r.status_code == 200, r.text
    texts = [m["text"] for m in r.json()["messages"]]
    assert len(texts) == 3
    for variant in (card, spaced, dashed, card[:12]):
        assert variant not in r.text
    assert all("•••• " + card[-4:] in t for t in texts)


# -- one key, twenty clients ---------------------------------------------------------------


def _race(n: int, request: Any) -> Counter[int]:
    """Fire `request(client)` from n threads released together; count the statuses."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()
    clients = [httpx.Client(base_url=request.base_url, timeout=30) for _ in range(n)]
    errors: list[BaseException] = []

    def run(client: httpx.Client) -> None:
        try:
            client.get("/healthz")  # connect before the start line
            barrier.wait(timeout=30)
            status = request(client).status_code
            with lock:
                statuses.append(status)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    assert not errors, errors
    return Counter(statuses)


@dataclass
class _Post:
    base_url: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    def __call__(self, client: httpx.Client) -> httpx.Response:
        return client.post(API + self.path, json=self.body, headers=self.headers)


def test_twenty_clients_race_for_one_open_key(stack: Stack, desk: Desk) -> None:
    sent = desk.send()
    counts = _race(20, _Post(stack.base_url, "/visitor/open", {"otk": sent.otk}, {}))
    assert counts == Counter({200: 1, 410: 19}), counts


def test_twenty_clients_race_for_one_submit_key(stack: Stack, desk: Desk) -> None:
    sent = desk.send()
    body = {"otk": desk.open(sent), "values": card_values()}
    counts = _race(20, _Post(stack.base_url, "/visitor/submit", body, {}))
    assert counts == Counter({202: 1, 410: 19}), counts
    desk.wait_submitted(sent.request_id)


def test_twenty_tabs_race_for_one_retrieve_key(stack: Stack, desk: Desk) -> None:
    done = submitted(desk)
    post = _Post(
        stack.base_url,
        f"/submissions/{done.submission_id}/reveal",
        {"otk": done.retrieve_otk},
        desk.agent,
    )
    counts = _race(20, post)
    assert counts == Counter({200: 1, 410: 19}), counts
