"""The moves of one secure form, over HTTP, as agents and visitors make them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from support.stack import PAYMENT_FORM, Stack


@dataclass
class Sent:
    conversation_id: str
    request_id: str
    otk: str


@dataclass
class Desk:
    """One site with an admin, a form and an agent, ready to send."""

    stack: Stack
    admin: dict[str, str]
    form_id: str
    agent_id: str
    agent: dict[str, str]

    @classmethod
    def make(cls, stack: Stack, form: dict[str, Any] | None = None) -> Desk:
        admin = stack.admin_headers()
        definition = dict(form or PAYMENT_FORM)
        definition["name"] = f"{definition['name']}_{time.time_ns() % 10**9}"
        form_id = stack.create_form(admin, definition)
        agent_id, agent = stack.new_agent(admin)
        return cls(stack, admin, form_id, agent_id, agent)

    def client(self) -> httpx.Client:
        return self.stack.client()

    def conversation(self, headers: dict[str, str] | None = None) -> str:
        with self.client() as c:
            r = c.post(
                "/api/v1/conversations",
                headers=headers or self.agent,
                json={"visitor": {"name": "V"}},
            )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def send(
        self,
        conversation_id: str | None = None,
        headers: dict[str, str] | None = None,
        language: str | None = None,
    ) -> Sent:
        """`language`: the visitor pages' language the agent picks (None: no choice)."""
        cid = conversation_id or self.conversation(headers)
        body: dict[str, str] = {"form_id": self.form_id}
        if language is not None:
            body["language"] = language
        with self.client() as c:
            r = c.post(
                f"/api/v1/conversations/{cid}/secure-forms",
                headers=headers or self.agent,
                json=body,
            )
        assert r.status_code == 201, r.text
        body = r.json()
        return Sent(cid, body["request_id"], body["otk"])

    def open(self, sent: Sent) -> str:
        with self.client() as c:
            r = c.post("/api/v1/visitor/open", json={"otk": sent.otk})
        assert r.status_code == 200, r.text
        return str(r.json()["submit_otk"])

    def submit(self, submit_otk: str, values: dict[str, Any]) -> httpx.Response:
        with self.client() as c:
            return c.post("/api/v1/visitor/submit", json={"otk": submit_otk, "values": values})

    def wait_submitted(
        self, request_id: str, headers: dict[str, str] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """Long-poll the agent's events until this request's `secure_form.submitted`."""
        after = "0"
        deadline = time.time() + timeout
        with self.client() as c:
            while time.time() < deadline:
                r = c.get(
                    "/api/v1/agent/events",
                    params={"after": after, "wait": 5},
                    headers=headers or self.agent,
                )
                assert r.status_code == 200, r.text
                for event in r.json()["events"]:
                    after = event["id"]
                    if (
                        event["type"] == "secure_form.submitted"
                        and event["data"]["request_id"] == request_id
                    ):
                        return dict(event["data"])
        raise AssertionError(f"no secure_form.submitted for {request_id} within {timeout}s")

    def reveal(
        self, submission_id: str, otk: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        with self.client() as c:
            return c.post(
                f"/api/v1/submissions/{submission_id}/reveal",
                headers=headers or self.agent,
                json={"otk": otk},
            )


def card_values(
    card: str = "4242424242424242", cvv: str = "123", name: str = "Ada Lovelace"
) -> dict[str, str]:
    return {"cardholder": name, "card_number": card, "expiry": "12/34", "cvv": cvv}


def luhn_complete(prefix: str, length: int = 16) -> str:
    """A valid card number with the given prefix (for unique canaries)."""
    body = prefix
    while len(body) < length - 1:
        body += str(time.time_ns() % 10)
        time.sleep(0)
    digits = [int(d) for d in body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)
