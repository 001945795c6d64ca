"""The api, fuzzed: schemathesis generates requests from the LIVE /openapi.json of a real
uvicorn (tests/support/stack.py) and checks every answer.

Checks, on every response: not a 5xx; its status documented for that operation; its
content type and body as documented (the success shapes and the one error shape); a
request the document calls invalid refused with a 4xx; and no value of a seeded canary
submission in its body (tests/support/scan.py, every encoding).

Who calls: an admin, an agent (the one who sent the canary form) and a site API key, each
on the operations its security scheme names (sessions: admin and agent; site keys: the
key), and nobody on the public ones. Path parameters are drawn either freely or from the
ids of real resources (the canary's conversation, request and submission, a form, a
profile, a throwaway user), so the answers past the 404 are fuzzed too.

Operations that would end or lock the fuzzing sessions get throwaway actors instead of
being skipped:
- `/api/v1/auth/*` with a session (log-out, password change, MFA enrolment, recovery
  codes, `me`): a fresh agent each, whose session may well end or lock (401/423 are
  documented) without touching the admin's or the agent's;
- `PUT /api/v1/site/policies`: the admin of a site of its own, since `mfa_required_roles`
  or a short idle timeout would lock every other actor out of the main site;
- `PATCH /api/v1/users/{user_id}`: its real id is a throwaway user's, never the admin's
  or the agent's (disabling them would end the run).
Operations that spend the canary (close its conversation, erase its submissions, archive
its form) run last. `DELETE /api/v1/site/api-keys/{key_id}` only ever gets generated ids,
so the site key the fuzz calls with stays. Nothing is excluded; but no generated body
names an address (`url`, `api_base`: webhooks and payment processors are resolved and
called), and the worker is stopped once the canary is stored, so nothing is delivered.

Bounded: `max_examples` per operation and actor, deterministic (`derandomize`), no
shrinking; the count and the time are printed. Rate limits are lifted by the test
settings (configs/test.toml), not by weakening production's.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from support.flow import Desk, card_values, luhn_complete
from support.scan import Canary, Scanner
from support.sites import OwnSite
from support.stack import Stack

pytestmark = pytest.mark.timeout(600)

# Per operation and caller; about 130 pairs, so over 5,000 requests in all.
EXAMPLES = 50
MIN_REQUESTS = 5000
# Spend the canary: these run after every other operation.
LAST = (
    ("POST", "/api/v1/conversations/{conversation_id}/close"),
    ("DELETE", "/api/v1/forms/{form_id}"),
    ("DELETE", "/api/v1/conversations/{conversation_id}/secure-forms"),
)
OWN_SITE_OPS = {("PUT", "/api/v1/site/policies")}
OUTBOUND = ("url", "api_base")  # body fields naming an address the service would reach


@dataclass
class Seeded:
    """The stack's real resources and callers, the canary among them."""

    stack: Stack
    scanner: Scanner
    callers: dict[str, dict[str, str]]
    ids: dict[str, str]
    canary: dict[str, str] = field(default_factory=dict)

    def throwaway_agent(self) -> dict[str, str]:
        return self.stack.new_agent(self.callers["admin"])[1]


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # PostgreSQL: the stricter of the two databases (NUL, lengths, types).
    with Stack.running("postgres", "redis", tmp_path_factory.mktemp("fuzz")) as s:
        yield s


@pytest.fixture(scope="module")
def seeded(fuzz_stack: Stack) -> Seeded:
    stack = fuzz_stack
    desk = Desk.make(stack)
    name = f"Canary-{uuid.uuid4().hex}"
    card = luhn_complete("4" + "".join(secrets.choice("0123456789") for _ in range(7)))
    sent = desk.send()
    submitted = desk.submit(desk.open(sent), card_values(card=card, name=name))
    assert submitted.status_code == 202, submitted.text
    event = desk.wait_submitted(sent.request_id)
    # Stored: no worker from here on, so nothing the fuzz sets up (a webhook, a payment
    # processor) is ever delivered to.
    stack.kill("worker")
    key = json.loads(stack.cli("site", "api-key", stack.site_id).stdout)["api_key"]
    site_key = {"Authorization": f"Bearer {key}"}
    with stack.client() as c:
        r = c.post(
            "/api/v1/profiles",
            headers=desk.admin,
            json={"name": "fuzzed", "role": "agent", "permissions": []},
        )
        assert r.status_code == 201, r.text
        profile_id = r.json()["id"]
    throwaway_id, _, _ = stack.new_user(desk.admin)
    return Seeded(
        stack,
        Scanner([Canary("card_number", card, digits=True), Canary("cardholder", name)]),
        {"admin": desk.admin, "agent": desk.agent, "site_key": site_key},
        {
            "conversation_id": sent.conversation_id,
            "request_id": sent.request_id,
            "submission_id": event["submission_id"],
            "form_id": desk.form_id,
            "profile_id": profile_id,
            "user_id": throwaway_id,
            "template": "payment_card",
        },
    )


# -- the checks -----------------------------------------------------------------------


def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if response.status_code >= 500 and response.status_code not in _documented(case):
        raise Failure(
            operation=case.operation.label,
            title="Server error",
            message=f"{response.status_code}: {response.text[:300]}",
        )
    return None


def refuses_what_the_document_forbids(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """schemathesis's negative_data_rejection, with 413 as a refusal too: a string past its
    maxLength may make the whole body too large, and that is refused before its fields."""
    if response.status_code == 413:
        return None
    if _sent_as_documented(response, case):
        return None
    return negative_data_rejection(ctx, response, case)


def _sent_as_documented(response: Response, case: Case) -> bool:
    """Whether a case drawn as negative only in its query and headers reached the wire as
    a request the document allows. schemathesis then calls its acceptance a finding: an
    extra query parameter whose value serializes to nothing, or an Authorization header
    "left out" that every call here sends (the actor's credentials, added to each case).
    Its own guards miss the two together; this one looks at what was sent."""
    meta = case.meta
    if meta is None or any(
        meta.is_negative_at(where)
        for where in (ParameterLocation.BODY, ParameterLocation.PATH, ParameterLocation.COOKIE)
    ):
        return False
    documented = {
        p["name"]: p["schema"]
        for p in case.operation.definition.raw.get("parameters", [])
        if p.get("in") == "query"
    }
    sent = parse_qsl(urlsplit(response.request.url or "").query, keep_blank_values=True)
    if len({name for name, _ in sent}) != len(sent):
        return False  # a parameter given twice is not in the document
    validator = case.operation.schema.adapter.jsonschema_validator_cls
    return all(
        name in documented and _allows(validator(documented[name]), text) for name, text in sent
    )


def _allows(validator: Any, text: str) -> bool:
    """A query value is text on the wire: valid if it or the number it spells fits."""
    readings: list[object] = [text]
    for read in (int, float):
        with contextlib.suppress(ValueError):
            readings.append(read(text))
    return any(validator.is_valid(value) for value in readings)


def _documented(case: Case) -> set[int]:
    return {int(s) for s in case.operation.responses.status_codes if s.isdigit()}


def make_canary_check(scanner: Scanner) -> Any:
    def no_canary(ctx: CheckContext, response: Response, case: Case) -> bool | None:
        hits = scanner.find(case.operation.label, response.content or b"")
        if hits:
            raise Failure(
                operation=case.operation.label,
                title="Canary value in a response",
                message="; ".join(str(h) for h in hits[:3]),
            )
        return None

    return no_canary


# -- the run --------------------------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _callers(seeded: Seeded, op: Any) -> list[tuple[str, dict[str, str]]]:
    schemes = {name for req in op.definition.raw.get("security", []) for name in req}
    if not schemes:
        return [("nobody", {})]
    key = (op.method.upper(), op.path)
    if key in OWN_SITE_OPS:
        return [("own-site admin", OwnSite.make(seeded.stack).admin)]
    if op.path.startswith("/api/v1/auth/"):
        return [("throwaway agent", seeded.throwaway_agent())]
    found = []
    if "session" in schemes:
        found += [("admin", seeded.callers["admin"]), ("agent", seeded.callers["agent"])]
    if "site_key" in schemes:
        found.append(("site key", seeded.callers["site_key"]))
    return found


def _strategy(op: Any, ids: dict[str, str]) -> Any:
    params = [p.name for p in op.path_parameters]
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    free = [op.as_strategy(generation_mode=m) for m in modes]
    real = {p: ids[p] for p in params if p in ids}
    if not real:
        return st.one_of(free)
    return st.one_of(
        *free,
        op.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real),
    )


def _no_long_poll(case: Case) -> None:
    """A long poll that would wait for events asks for none: a `wait` the document allows
    (0 to 30 s) becomes 0; one it forbids is kept, to be refused at once. Done to the drawn
    case, not as a `query=` override: that takes `wait` out of the schema, so a negative
    case "adds" it as an unknown parameter, and no case ever sends a bad `wait`."""
    query = case.query if isinstance(case.query, dict) else {}
    wait = query.get("wait")
    try:
        allowed = wait is None or wait == "" or 0 <= float(wait) <= 30
    except (TypeError, ValueError):
        allowed = False
    if allowed:
        query["wait"] = "0"
    case.query = query


def _fuzz(
    op: Any,
    who: str,
    headers: dict[str, str],
    seeded: Seeded,
    tally: Tally,
    session: requests.Session,
    checks: list[Any],
) -> None:
    base = seeded.stack.base_url

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(op, seeded.ids))
    def run(case: Case) -> None:
        if isinstance(case.body, dict):
            # Webhook and payment URLs are resolved when registered and called later: no
            # generated one may send this machine's traffic anywhere but loopback.
            for name in OUTBOUND:
                case.body.pop(name, None)
        if op.path.endswith("/events"):
            _no_long_poll(case)
        tally.requests += 1
        response = case.call(base_url=base, session=session, headers=headers, timeout=30)
        tally.by_status[response.status_code] = tally.by_status.get(response.status_code, 0) + 1
        case.validate_response(response, checks=checks, headers=headers)

    started = time.monotonic()
    try:
        run()
    except (
        Exception,
        FailureGroup,
    ) as exc:  # every finding of the run is reported, not only the first
        tally.failures.append(f"{op.label} as {who}:\n{str(exc)[:1500]}")
    tally.seconds[f"{op.label} as {who}"] = time.monotonic() - started


def test_the_api_survives_fuzzing(seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_url(f"{seeded.stack.base_url}/openapi.json")
    ops = [result.ok() for result in schema.get_all_operations()]
    ops.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    checks = [
        no_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        refuses_what_the_document_forbids,
        make_canary_check(seeded.scanner),
    ]
    tally = Tally()
    started = time.monotonic()
    with requests.Session() as session:
        for op in ops:
            for who, headers in _callers(seeded, op):
                _fuzz(op, who, headers, seeded, tally, session, checks)
    elapsed = time.monotonic() - started
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.by_status.items()))
    print(
        f"\nfuzz: {tally.requests} requests in {elapsed:.1f} s over {len(ops)} operations "
        f"({statuses})"
    )
    slowest = sorted(tally.seconds.items(), key=lambda kv: -kv[1])[:8]
    print("slowest: " + "; ".join(f"{k} {v:.1f} s" for k, v in slowest))
    assert not tally.failures, f"{len(tally.failures)} finding(s):\n\n" + "\n\n".join(
        tally.failures
    )
    assert tally.requests >= MIN_REQUESTS
