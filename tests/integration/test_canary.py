"""The canary test: submit unique values, then look for them everywhere they must not be.

ARCHITECTURE.md: "Plaintext has a short, known path": the visitor's request, the worker
while tokenizing, the agent's reveal response. So after one secure form goes the whole
way (and a volley of bad submissions fails on the way), none of its values may be found
in either database (every table, column and row, raw and base64-decoded; SQLite files
byte for byte, free pages and WAL included), in any Redis key of the stack (read by TYPE,
while the message is queued, before the reveal and after it), in the commands Redis ran
(MONITOR), in the queued broker message, in the api's and worker's logs (and, on
PostgreSQL, the server's log), in the transcript, or in any response but the reveal.

A stack of its own per backend combo, not the session `stack`: the worker is stopped so
the broker message can be read while it waits in the queue (that would stall other tests'
submissions), and its logs, Redis databases and SQLite files then hold only this module's
traffic, so that the proofs below ("the scan saw the message / the off-record key / the
vault row / the worker's log line") are about this submission. The canaries are unique
per run, so other stacks sharing the Redis server (MONITOR sees every database) can't make
the scan fail; they only add lines to search.

The scan is shown to work: each place is first checked to contain what this submission
wrote there, and `test_the_scanner_finds_planted_canaries` plants canaries where a leak
would put them and requires the same scanner to find them.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import kombu
import pytest
import sqlalchemy as sa
from support import redis_dbs
from support.flow import Desk, Sent, luhn_complete
from support.logs import events_in, matching, wait_for_event
from support.scan import (
    Canary,
    Hit,
    Item,
    RedisMonitor,
    Scanner,
    database_items,
    file_items,
    redis_items,
)
from support.stack import Stack

COMBOS = [("sqlite", "redis"), ("postgres", "rabbitmq")]
QUEUE = "secureforms"
PG_SERVER_LOGS = "/var/log/postgresql/*.log"

CANARY_FORM: dict[str, Any] = {
    "name": "canary",
    "title": "Canary form",
    "fields": [
        {"name": "cardholder", "label": "Name on card", "type": "text", "required": True},
        {"name": "card_number", "label": "Card number", "type": "card_number", "required": True},
        {"name": "expiry", "label": "Expiry", "type": "card_expiry", "required": True},
        {"name": "cvv", "label": "CVV", "type": "cvv", "required": True},
        {
            "name": "memorable",
            "label": "Memorable word",
            "type": "secret_answer",
            "off_the_record": True,
            "required": True,
        },
        {"name": "whisper", "label": "Whisper", "type": "text", "off_the_record": True},
        {"name": "notes", "label": "Notes", "type": "text", "max_length": 300},
        {"name": "contact", "label": "Email", "type": "email"},
    ],
}
STORED = ("cardholder", "card_number", "expiry", "notes", "contact")
OFF_RECORD = ("cvv", "memorable", "whisper")


def _hex() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Values:
    """This run's canaries; `bad_card` (fails Luhn) and `junk` only ever appear in bad
    requests."""

    cardholder: str = field(default_factory=lambda: f"Canary-{_hex()}")
    card_number: str = field(
        default_factory=lambda: luhn_complete(
            "4" + "".join(secrets.choice("0123456789") for _ in range(14))
        )
    )
    cvv: str = field(default_factory=lambda: f"{secrets.randbelow(1000):03d}")
    memorable: str = field(default_factory=lambda: f"OffRecordAnswer-{_hex()}{_hex()}")
    whisper: str = field(default_factory=lambda: f"Whisper-{_hex()}-told-once")
    notes: str = field(default_factory=lambda: f"StoredNote-{_hex()} kept for thirteen months")
    contact: str = field(default_factory=lambda: f"canary.{_hex()}@example.com")
    junk: str = field(default_factory=lambda: f"ErrorOnly-{_hex()}")
    # Sent apart, with a lone surrogate that JSON allows and UTF-8 does not.
    unencodable: str = field(default_factory=lambda: f"Unencodable-{_hex()}")

    @property
    def bad_card(self) -> str:
        return self.card_number[:-1] + str((int(self.card_number[-1]) + 1) % 10)

    def submission(self) -> dict[str, str]:
        return {
            "cardholder": self.cardholder,
            "card_number": " ".join(
                self.card_number[i : i + 4] for i in range(0, len(self.card_number), 4)
            ),
            "expiry": "12/34",
            "cvv": self.cvv,
            "memorable": self.memorable,
            "whisper": self.whisper,
            "notes": self.notes,
            "contact": self.contact,
        }

    def canaries(self) -> list[Canary]:
        # The CVV (3 digits) and expiry are too short to tell apart from noise.
        texts = ("cardholder", "memorable", "whisper", "notes", "contact", "junk")
        return [
            Canary("card_number", self.card_number, digits=True),
            Canary("bad_card", self.bad_card, digits=True),
            *(Canary(name, getattr(self, name)) for name in texts),
        ]


@dataclass
class Trail:
    """What one canary submission left behind, gathered while it happened."""

    stack: Stack
    values: Values
    scanner: Scanner
    sent: Sent | None = None
    submission_id: str = ""
    reveal: dict[str, Any] = field(default_factory=dict)
    # (label, response) of every request but the successful reveal
    responses: list[tuple[str, httpx.Response]] = field(default_factory=list)
    errors: list[tuple[str, httpx.Response]] = field(default_factory=list)
    key_echo: list[tuple[str, httpx.Response]] = field(default_factory=list)
    transcript: httpx.Response | None = None
    broker: list[Item] = field(default_factory=list)
    redis_snapshots: list[Item] = field(default_factory=list)
    monitor: list[Item] = field(default_factory=list)
    pg_server_log: list[Item] = field(default_factory=list)
    # the submission whose secret answer carries a lone surrogate
    unencodable_response: httpx.Response | None = None
    unencodable_status: str = ""
    monitor_plant: str = field(default_factory=lambda: f"MonitorPlant-{_hex()}")

    def hits(self, items: list[Item]) -> list[Hit]:
        return self.scanner.scan(items)


def _report(hits: list[Hit], place: str) -> str:
    lines = "\n".join(f"  {hit}" for hit in hits[:30])
    return f"plaintext found in {place} ({len(hits)} hits):\n{lines}"


# -- the stack and the trail -------------------------------------------------------------


@pytest.fixture(scope="module", params=COMBOS, ids=[f"{d}-{b}" for d, b in COMBOS])
def canary_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    db, broker = request.param
    with Stack.running(db, broker, tmp_path_factory.mktemp(f"canary-{db}-{broker}")) as s:
        yield s


@pytest.fixture(scope="module")
def trail(canary_stack: Stack) -> Trail:
    stack = canary_stack
    values = Values()
    trail = Trail(stack, values, Scanner(values.canaries()))
    pg_log_offsets = _pg_log_offsets() if stack.db == "postgres" else {}

    desk = Desk.make(stack, form=CANARY_FORM)
    sent = trail.sent = desk.send()
    with stack.client() as c:
        opened = c.post("/api/v1/visitor/open", json={"otk": sent.otk})
    assert opened.status_code == 200, opened.text
    trail.responses.append(("open", opened))
    submit_otk = opened.json()["submit_otk"]

    monitor = RedisMonitor(port=redis_dbs.port()).start()
    try:
        with redis_dbs.client(stack.redis_db) as r:
            plant_key = f"sf:canary-plant:{_hex()}"
            r.set(
                plant_key,
                trail.monitor_plant + base64.b64encode(trail.monitor_plant.encode()).decode(),
                px=1,
            )
        _bad_requests(trail, desk, submit_otk)

        # The worker is stopped so that the message can be read while it is queued.
        stack.kill("worker")
        with stack.client() as c:
            accepted = c.post(
                "/api/v1/visitor/submit", json={"otk": submit_otk, "values": values.submission()}
            )
        assert accepted.status_code == 202, accepted.text
        trail.responses.append(("submit", accepted))
        trail.broker = _queued_messages(stack)
        trail.redis_snapshots += _snapshot(stack, "while queued")
        with stack.client() as c:
            replay = c.post(
                "/api/v1/visitor/submit", json={"otk": submit_otk, "values": values.submission()}
            )
        assert replay.status_code == 410, replay.text
        trail.errors.append(("submit replayed with a spent key", replay))

        stack.start_worker()
        event = _wait_submitted(desk, sent.request_id)
        trail.submission_id = event["submission_id"]
        wait_for_event(
            stack, "submission stored, agent notified", "worker", submission_id=trail.submission_id
        )
        trail.redis_snapshots += _snapshot(stack, "before reveal")

        _reveal(trail, desk, event)
        _agent_reads(trail, desk)
        _submit_unencodable(trail, desk)
    finally:
        trail.monitor = monitor.stop()

    # Stopped, so that shutdown messages are in the logs too and nothing changes under
    # the scans.
    stack.kill("worker")
    stack.kill("api")
    if pg_log_offsets:
        trail.pg_server_log = _pg_log_since(pg_log_offsets)
    return trail


def _bad_requests(trail: Trail, desk: Desk, submit_otk: str) -> None:
    """Requests that fail, each carrying canaries; none of their answers may echo one."""
    v = trail.values
    good = v.submission()
    agent = desk.agent
    sent = trail.sent
    assert sent is not None

    def submit(values: object, otk: object = submit_otk, **extra: object) -> dict[str, object]:
        return {"otk": otk, "values": values, **extra}

    json_cases: list[tuple[str, str, str, object, dict[str, str] | None]] = [
        (
            "card fails Luhn",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "card_number": v.bad_card}),
            None,
        ),
        (
            "card fails Luhn, grouped",
            "POST",
            "/api/v1/visitor/submit",
            submit(
                {**good, "card_number": "-".join(v.bad_card[i : i + 4] for i in range(0, 16, 4))}
            ),
            None,
        ),
        (
            "card with letters",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "card_number": f"{v.card_number}{v.junk}"}),
            None,
        ),
        (
            "card too long",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "card_number": v.card_number + v.bad_card}),
            None,
        ),
        (
            "card as a JSON number",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "card_number": int(v.card_number)}),
            None,
        ),
        (
            "email invalid",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "contact": f"{v.contact}@{v.junk}"}),
            None,
        ),
        (
            "text too long",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "notes": (v.notes + " ") * 12}),
            None,
        ),
        (
            "secret answer as a list",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "memorable": [v.memorable]}),
            None,
        ),
        (
            "secret answer as an object",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "memorable": {"answer": v.memorable}}),
            None,
        ),
        (
            "required secret missing, others present",
            "POST",
            "/api/v1/visitor/submit",
            submit({k: x for k, x in good.items() if k != "memorable"} | {"cvv": "1"}),
            None,
        ),
        (
            "unknown field with a canary value",
            "POST",
            "/api/v1/visitor/submit",
            submit({**good, "nosuchfield": v.junk}),
            None,
        ),
        ("values is a string", "POST", "/api/v1/visitor/submit", submit(v.memorable), None),
        (
            "values is a list",
            "POST",
            "/api/v1/visitor/submit",
            submit([v.card_number, v.memorable]),
            None,
        ),
        (
            "unknown top-level field with a canary value",
            "POST",
            "/api/v1/visitor/submit",
            submit(good, extra=v.junk),
            None,
        ),
        ("otk is a canary", "POST", "/api/v1/visitor/submit", submit(good, otk=v.junk), None),
        ("otk too long", "POST", "/api/v1/visitor/submit", submit(good, otk=v.junk * 5), None),
        (
            "otk is a number",
            "POST",
            "/api/v1/visitor/submit",
            submit(good, otk=int(v.card_number)),
            None,
        ),
        ("open with a canary otk", "POST", "/api/v1/visitor/open", {"otk": v.junk}, None),
        (
            "open with a card as otk",
            "POST",
            "/api/v1/visitor/open",
            {"otk": f"{v.card_number}{v.card_number}"},
            None,
        ),
        ("extend with a canary otk", "POST", "/api/v1/visitor/extend", {"otk": v.memorable}, None),
        ("body is a list", "POST", "/api/v1/visitor/submit", [v.card_number, v.memorable], None),
        (
            "reveal a canary id",
            "POST",
            f"/api/v1/submissions/{v.junk}/reveal",
            {"otk": v.memorable},
            agent,
        ),
        (
            "retrieve-otk for a canary id",
            "POST",
            f"/api/v1/submissions/{v.card_number}/retrieve-otk",
            None,
            agent,
        ),
        ("status of a canary request", "GET", f"/api/v1/secure-forms/{v.junk}", None, agent),
        (
            "canary bearer token",
            "GET",
            f"/api/v1/secure-forms/{sent.request_id}",
            None,
            {"Authorization": f"Bearer {v.memorable}"},
        ),
        ("canary events cursor", "GET", f"/api/v1/agent/events?after={v.junk}&wait=0", None, agent),
        ("no such endpoint", "POST", f"/api/v1/visitor/{v.junk}", {"otk": v.memorable}, None),
        ("wrong method", "GET", f"/api/v1/visitor/submit?v={v.junk}", None, None),
    ]
    raw_cases: list[tuple[str, bytes]] = [
        (
            "malformed JSON",
            (
                f'{{"otk": "{submit_otk}", "values": {{"card_number": "{v.card_number}", '
                f'"memorable": "{v.memorable}", "notes": "{v.notes}"'
            ).encode(),
        ),
        (
            "JSON with a trailing comma",
            json.dumps(submit(good)).encode()[:-1] + b", }",
        ),
        (
            "not UTF-8",
            f'{{"otk": "{submit_otk}", "values": {{"notes": "{v.notes}'.encode()
            + b"\xff\xfe"
            + f'", "card_number": "{v.card_number}"}}}}'.encode(),
        ),
        (
            "too large",
            json.dumps(submit({**good, "notes": (v.notes + " ") * 1200})).encode(),
        ),
        ("JSON string", json.dumps(v.memorable).encode()),
        (
            "JSON nested too deep",
            (
                f'{{"otk": "{submit_otk}", "values": {{"notes": "{v.notes}", "x": '
                + "[" * 30_000
                + "]" * 30_000
                + "}}"
            ).encode(),
        ),
    ]
    with httpx.Client(base_url=trail.stack.base_url, timeout=30) as c:
        for label, method, path, body, headers in json_cases:
            r = c.request(method, path, json=body, headers=headers)
            trail.errors.append((label, r))
        for label, raw in raw_cases:
            r = c.post(
                "/api/v1/visitor/submit",
                content=raw,
                headers={"Content-Type": "application/json"},
            )
            trail.errors.append((label, r))
        # Field names are the form's; a name the form lacks is still something a
        # client typed, so an echo of it is reported apart from the value checks.
        for label, body in [
            ("unknown field named like a value", submit({**good, f"k{v.junk[10:].lower()}": "x"})),
            ("unknown top-level key named like a value", {**submit(good), v.junk: 1}),
        ]:
            trail.key_echo.append((label, c.post("/api/v1/visitor/submit", json=body)))


def _queued_messages(stack: Stack) -> list[Item]:
    """Every message waiting in the broker (the worker is stopped), read without acking."""
    deadline = time.time() + 15
    while time.time() < deadline:
        if stack.broker == "redis":
            with redis_dbs.client(stack.broker_db) as broker:
                if broker.llen(QUEUE):
                    return redis_items(broker)
        else:
            messages = _rabbit_messages(stack.env["SECUREFORMS_BROKER_URL"])
            if messages:
                return messages
        time.sleep(0.2)
    raise AssertionError("the accepted submission's message never showed up in the broker")


def _rabbit_messages(url: str) -> list[Item]:
    vhost = url.rsplit("/", 1)[1]
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages", "--no-table-headers"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    queues = [line.split()[0] for line in listing.splitlines() if line.strip()]
    items: list[Item] = []
    with kombu.Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        try:
            for queue in queues:
                while (message := channel.basic_get(queue, no_ack=False)) is not None:
                    where = f"rabbitmq {queue} #{len(items)}"
                    body = message.body
                    raw = body.encode() if isinstance(body, str) else bytes(body)
                    items.append((f"{where} body", raw))
                    items.append((f"{where} properties", repr(message.properties).encode()))
                    items.append((f"{where} delivery", repr(message.delivery_info).encode()))
        finally:
            # Unacked messages go back to their queues when the channel closes.
            channel.close()
    return items


def _snapshot(stack: Stack, when: str) -> list[Item]:
    """Every key of the stack's Redis databases (app data, and the broker's if Redis)."""
    items: list[Item] = []
    for client in stack.redis_clients():
        with client:
            items += [(f"{where} [{when}]", data) for where, data in redis_items(client)]
    return items


def _reveal(trail: Trail, desk: Desk, event: dict[str, Any]) -> None:
    v = trail.values
    with desk.client() as c:
        wrong = c.post(
            f"/api/v1/submissions/{trail.submission_id}/reveal",
            headers=desk.agent,
            json={"otk": v.memorable},
        )
        trail.errors.append(("reveal with a canary otk", wrong))
    first = desk.reveal(trail.submission_id, event["retrieve_otk"])
    assert first.status_code == 200, first.text
    trail.reveal = first.json()
    replay = desk.reveal(trail.submission_id, event["retrieve_otk"])
    trail.errors.append(("reveal replayed", replay))


def _agent_reads(trail: Trail, desk: Desk) -> None:
    sent = trail.sent
    assert sent is not None
    with desk.client() as c:
        trail.transcript = c.get(
            f"/api/v1/conversations/{sent.conversation_id}/transcript", headers=desk.agent
        )
        assert trail.transcript.status_code == 200, trail.transcript.text
        for label, path in [
            ("request status", f"/api/v1/secure-forms/{sent.request_id}"),
            ("agent events", "/api/v1/agent/events?after=0&wait=0"),
            ("metrics", "/metrics"),
        ]:
            trail.responses.append((label, c.get(path, headers=desk.agent)))
        fresh = c.post(
            f"/api/v1/submissions/{trail.submission_id}/retrieve-otk", headers=desk.agent
        )
        trail.responses.append(("retrieve-otk", fresh))
        again = desk.reveal(trail.submission_id, fresh.json()["otk"])
        assert again.status_code == 200, again.text
        # Off-the-record answers are gone after the first reveal; only stored ones remain.
        assert again.json()["off_the_record"] == {}
        assert again.json()["values"] == trail.reveal["values"]


def _wait_submitted(desk: Desk, request_id: str, timeout: float = 30) -> dict[str, Any]:
    """Desk.wait_submitted, but polling with waits under redis-py's 5 s socket timeout,
    which a longer long-poll runs into (a 500; see the report of this test's issue)."""
    after, deadline = "0", time.time() + timeout
    with desk.client() as c:
        while time.time() < deadline:
            r = c.get(
                "/api/v1/agent/events", params={"after": after, "wait": 2}, headers=desk.agent
            )
            assert r.status_code == 200, r.text
            for event in r.json()["events"]:
                after = event["id"]
                data = event["data"]
                if event["type"] == "secure_form.submitted" and data["request_id"] == request_id:
                    return dict(data)
    raise AssertionError(f"no secure_form.submitted for {request_id} within {timeout}s")


_TASK_OUTCOME = re.compile(r"tokenize_(?:submission|one)\[[^\]]+\] (succeeded|raised|retry|failed)")


def _submit_unencodable(trail: Trail, desk: Desk) -> None:
    """JSON may carry a lone surrogate (\\ud800); no UTF-8 store can keep one. The api
    must refuse it or the worker store it; either way the value is never logged."""
    stack = trail.stack
    sent = desk.send()
    submit_otk = desk.open(sent)
    values = {
        "cardholder": "Ada Lovelace",
        "card_number": "4242424242424242",
        "expiry": "12/34",
        "cvv": "123",
        "memorable": "PLACEHOLDER",
    }
    body = json.dumps({"otk": submit_otk, "values": values}).replace(
        "PLACEHOLDER", trail.values.unencodable + "\\ud800"
    )
    outcomes = len(_TASK_OUTCOME.findall(stack.logs()))
    with stack.client() as c:
        trail.unencodable_response = c.post(
            "/api/v1/visitor/submit",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        if trail.unencodable_response.status_code == 202:
            deadline = time.time() + 20
            while time.time() < deadline:
                if len(_TASK_OUTCOME.findall(stack.logs())) > outcomes:
                    break
                time.sleep(0.2)
        status = c.get(f"/api/v1/secure-forms/{sent.request_id}", headers=desk.agent)
    assert status.status_code == 200, status.text
    trail.unencodable_status = status.json()["status"]


def _pg_log_offsets() -> dict[str, int]:
    return {p: os.path.getsize(p) for p in glob.glob(PG_SERVER_LOGS) if os.access(p, os.R_OK)}


def _pg_log_since(offsets: dict[str, int]) -> list[Item]:
    items = []
    for path, offset in offsets.items():
        with open(path, "rb") as fh:
            fh.seek(offset)
            items.append((f"{path} (from byte {offset})", fh.read()))
    return items


def _response_items(responses: list[tuple[str, httpx.Response]]) -> list[Item]:
    items = []
    for label, r in responses:
        where = f"{r.request.method} {r.request.url.path} [{label}] → {r.status_code}"
        items.append((f"{where} body", r.content))
        items.append((f"{where} headers", repr(r.headers.multi_items()).encode()))
    return items


# -- the pipeline really carried the canaries --------------------------------------------


def test_the_reveal_returns_every_canary(trail: Trail) -> None:
    """Without this, a clean scan could mean the values never went anywhere."""
    v = trail.values
    body = trail.reveal
    assert body["submission_id"] == trail.submission_id
    assert body["values"] == {
        "cardholder": v.cardholder,
        "card_number": v.card_number,
        "expiry": "12/34",
        "notes": v.notes,
        "contact": v.contact,
    }
    assert body["off_the_record"] == {"cvv": v.cvv, "memorable": v.memorable, "whisper": v.whisper}
    assert body["off_record_status"] == "available"
    found = {hit.canary for hit in trail.scanner.find("reveal", json.dumps(body))}
    assert found >= {"card_number", "cardholder", "memorable", "whisper", "notes", "contact"}


def test_the_scanner_finds_planted_canaries(trail: Trail) -> None:
    """The same scanner, on the same stack, finds a canary where a leak would put it.

    Only hits on what is planted here count, so this holds whether or not the stack
    leaks elsewhere (the tests below say that)."""
    stack, v, scanner = trail.stack, trail.values, trail.scanner
    key = f"sf:canary-plant:{_hex()}"
    sealed_looking = base64.b64encode(b"\x01key" + v.memorable.encode() + b"\x00tail")
    with redis_dbs.client(stack.redis_db) as r:
        try:
            r.hset(key, mapping={"card": v.card_number, "blob": sealed_looking})
            r.xadd(key + ":stream", {"data": json.dumps({"note": v.notes})})
            hits = scanner.scan(_snapshot(stack, "planted"))
        finally:
            r.delete(key, key + ":stream")
    found = {(h.canary, h.form) for h in hits if key in h.where}
    assert ("card_number", "raw") in found
    assert ("memorable", "raw") in found  # from inside the base64 blob
    assert any(c == "memorable" and f.startswith("base64(") for c, f in found)
    assert ("notes", "raw") in found

    plant = stack.data_dir / "planted.log"
    plant.write_text(f"INFO visitor typed {v.whisper.upper()}\n")
    try:
        hits = scanner.scan(file_items(stack.data_dir))
    finally:
        plant.unlink()
    assert {h.canary for h in hits if h.where == str(plant)} == {"whisper"}

    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (a TEXT, b BLOB)"))
        conn.execute(
            sa.text("INSERT INTO t VALUES (:a, :b)"),
            {
                "a": "4 " + " ".join(v.card_number[i : i + 4] for i in range(0, 16, 4)),
                "b": base64.b64encode(
                    json.dumps({"body": base64.b64encode(v.cardholder.encode()).decode()}).encode()
                ),
            },
        )
    found = {(h.canary, h.form) for h in scanner.scan(database_items("planted", engine))}
    engine.dispose()
    assert {("card_number", "spaced"), ("cardholder", "raw")} <= found

    # A value written while MONITOR ran is in its capture (a canary of its own, so that
    # the capture stays clean for the real ones).
    plant = Canary("monitor-plant", trail.monitor_plant)
    assert {h.form for h in Scanner([plant]).scan(trail.monitor)} >= {"raw", "base64(raw)@0"}
    # The broker capture is proven by test_the_broker_message_is_sealed, which requires
    # it to contain this submission's message before calling it clean.


# -- nowhere else -------------------------------------------------------------------------


def test_no_error_body_echoes_a_value(trail: Trail) -> None:
    assert len(trail.errors) > 30
    for label, r in trail.errors:
        assert r.json().keys() >= {"error", "message"}, (label, r.text)
    hits = trail.hits(_response_items(trail.errors))
    assert not hits, _report(hits, "error responses")


def test_bad_requests_are_refused_with_a_4xx(trail: Trail) -> None:
    statuses = {
        label: r.status_code for label, r in trail.errors if label != "JSON nested too deep"
    }
    assert all(400 <= s < 500 for s in statuses.values()), statuses


def test_json_nested_too_deep_is_malformed_json(trail: Trail) -> None:
    (nested,) = [r for label, r in trail.errors if label == "JSON nested too deep"]
    assert nested.status_code == 400, nested.text
    assert nested.json()["error"] == "malformed_json"


def test_no_error_body_echoes_a_field_name_the_form_lacks(trail: Trail) -> None:
    """A key the form does not have is something the client typed, perhaps a value pasted
    into the wrong place; the answer names the problem without repeating it."""
    hits = trail.hits(_response_items(trail.key_echo))
    assert all(r.status_code == 422 for _, r in trail.key_echo)
    assert not hits, _report(hits, "error responses to unknown keys")


def test_no_other_response_carries_a_value(trail: Trail) -> None:
    assert trail.transcript is not None
    texts = [m["text"] for m in trail.transcript.json()["messages"]]
    assert any("submitted" in t for t in texts), texts
    responses = [*trail.responses, ("transcript", trail.transcript)]
    hits = trail.hits(_response_items(responses))
    assert not hits, _report(hits, "responses other than the reveal")


def test_the_broker_message_is_sealed(trail: Trail) -> None:
    ours = Scanner([Canary("submission_id", trail.submission_id)])
    assert ours.scan(trail.broker), "the captured broker messages are not this submission's"
    hits = trail.hits(trail.broker)
    assert not hits, _report(hits, "the queued broker message")


def test_redis_traffic_is_clean(trail: Trail) -> None:
    seen = b"\n".join(line for _, line in trail.monitor)
    assert f"sf:offrec:{trail.stack.site_id}:{trail.submission_id}".encode() in seen
    assert b'"secureforms"' in seen or trail.stack.broker != "redis"  # the LPUSH
    hits = trail.hits(trail.monitor)
    assert not hits, _report(hits, "commands Redis ran (MONITOR)")


def test_redis_keys_hold_no_plaintext(trail: Trail) -> None:
    names = b"\n".join(where.encode() for where, _ in trail.redis_snapshots)
    assert f"sf:offrec:{trail.stack.site_id}:{trail.submission_id}".encode() in names
    items = [*trail.redis_snapshots, *_snapshot(trail.stack, "at the end")]
    hits = trail.hits(items)
    assert not hits, _report(hits, "Redis keys")


def test_databases_hold_no_plaintext(trail: Trail) -> None:
    engines = trail.stack.engines()
    try:
        items = [item for name, e in engines.items() for item in database_items(name, e)]
    finally:
        for e in engines.values():
            e.dispose()
    assert any(
        where.startswith("vault.vault_submissions.id") and data == trail.submission_id.encode()
        for where, data in items
    ), "the vault row of this submission is missing"
    hits = trail.hits(items)
    assert not hits, _report(hits, "database rows")


def test_logs_and_files_are_clean(trail: Trail) -> None:
    stack = trail.stack
    logs = stack.logs()
    assert matching(
        events_in(logs), "submission stored, agent notified", submission_id=trail.submission_id
    )
    files = file_items(stack.data_dir)
    if stack.db == "sqlite":
        assert {Path(w).name for w, _ in files} >= {"app.sqlite3", "vault.sqlite3"}
    items: list[Item] = [("logs", logs.encode()), *files, *trail.pg_server_log]
    hits = trail.hits(items)
    assert not hits, _report(hits, "logs and files")


def test_a_value_no_store_can_encode_is_neither_lost_nor_logged(trail: Trail) -> None:
    """Before core/forms/fields.py refused lone surrogates, one passed validation (202),
    the worker's UTF-8 encode in the vault failed, celery.app.trace logged the exception's
    repr (the whole plaintext answer) and the submission was lost."""
    v = trail.values
    r = trail.unencodable_response
    assert r is not None
    ours = Scanner([Canary("unencodable", v.unencodable)])
    engines = trail.stack.engines()
    try:
        rows = [item for name, e in engines.items() for item in database_items(name, e)]
    finally:
        for e in engines.values():
            e.dispose()
    everywhere: list[Item] = [
        ("logs", trail.stack.logs().encode()),
        *file_items(trail.stack.data_dir),
        *trail.pg_server_log,
        *trail.monitor,
        *trail.redis_snapshots,
        *_snapshot(trail.stack, "at the end"),
        *rows,
        *_response_items([("unencodable", r)]),
    ]
    hits = ours.scan(everywhere)
    assert not hits, _report(hits, "places the unencodable answer reached")
    assert r.status_code == 422 or trail.unencodable_status == "submitted", (
        f"answered {r.status_code} {r.text}, then the request stayed {trail.unencodable_status!r}"
    )
