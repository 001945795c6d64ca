"""Bad input, everywhere: a precise 4xx in the one error shape, never a 500, never an echo.

The endpoints are not hand-picked: the walk reads GET /openapi.json (built from the same
registry as the routes) and sends every path and method malformed JSON, the wrong JSON
type, unknown fields, wrong field types, strings one past their limit, bodies past the
size limit (declared and chunked), strings a database may not hold (NUL, lone surrogates,
exactly the declared maximum), with no token, an admin's and an agent's, and with path
parameters set to random UUIDs, to ids of real resources and to junk. Every bad body
carries a canary that must never come back. Endpoint-specific rules follow the walk.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from support.flow import Desk, Sent, card_values
from support.stack import PAYMENT_FORM, Stack

API = "/api/v1"
BODY_LIMIT = 65536
CANARY = "zq" + uuid.uuid4().hex  # lowercase letters and digits: valid even as a name
UNKNOWN = "zz_unknown_field"
# How an answer may flag unknown fields without repeating their names (client input).
UNKNOWN_MARKER = "_unknown"

# Path parameters that are not ids; some never reach a route (404/405 from the router).
JUNK_PARAMS = (
    "../../etc",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%FF%FE",
    "x" * 300,
    CANARY + "%27%22%3Cscript%3E",
    "%20",
)
ROLES = ("none", "admin", "agent")
# Calls that would end the walk's own session or change its account: tested elsewhere.
NEVER_EMPTY = {("POST", "/api/v1/auth/logout")}


# -- the route table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    secured: bool
    schema: Mapping[str, Any] | None  # the JSON body's schema, when the endpoint declares one
    max_body: int = 0  # the endpoint's own body limit where it takes more than BODY_LIMIT

    @property
    def params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    @property
    def free_form(self) -> bool:
        """The handler checks the object itself (form definitions)."""
        return self.schema is not None and "properties" not in self.schema

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return dict((self.schema or {}).get("properties", {}))

    @property
    def required(self) -> list[str]:
        return list((self.schema or {}).get("required", []))

    def url(self, fill: Callable[[str], str]) -> str:
        path = self.path
        for name in self.params:
            path = path.replace("{" + name + "}", fill(name))
        return path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def route_table(stack: Stack) -> list[Op]:
    with stack.client() as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200, r.text
    ops = []
    for path, methods in r.json()["paths"].items():
        for method, op in methods.items():
            request = op.get("requestBody", {})
            body = request.get("content", {}).get("application/json", {})
            ops.append(
                Op(
                    method.upper(),
                    path,
                    "security" in op,
                    body.get("schema"),
                    int(request.get("x-max-body-bytes", 0)),
                )
            )
    return ops


# -- bodies --------------------------------------------------------------------------------


def _types(prop: Mapping[str, Any]) -> list[str]:
    t = prop.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def plausible(prop: Mapping[str, Any]) -> Any:
    """A value of the right JSON type (not necessarily meaningful). Numbers are negative,
    so that a site-wide setting reached by the walk is refused rather than changed."""
    kind = _types(prop)[0]
    return {"string": str(uuid.uuid4()), "object": {}, "boolean": True, "array": []}.get(kind, -1)


def wrong_type(prop: Mapping[str, Any]) -> Any:
    kinds = set(_types(prop))
    for value, kind in (
        ([CANARY], {"array"}),
        ({"zz": CANARY}, {"object"}),
        (CANARY, {"string"}),
        (12345, {"integer", "number"}),
        (True, {"boolean"}),
    ):
        if not kinds & kind:
            return value
    raise AssertionError(f"no wrong type for {prop}")


def minimal(op: Op) -> dict[str, Any]:
    return {name: plausible(op.properties[name]) for name in op.required}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass(frozen=True)
class Bad:
    """One bad body and the answer it must get."""

    label: str
    content: bytes | Callable[[], Iterator[bytes]]
    status: int
    code: str
    fields: frozenset[str] = frozenset()


def _chunked(size: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "' + CANARY.encode()
        sent = 0
        while sent < size:
            yield b"a" * 8192
            sent += 8192
        yield b'"}'

    return chunks


def bad_bodies(op: Op) -> list[Bad]:
    """Bodies that the edge must refuse before any handler runs, whoever is calling."""
    c = CANARY.encode()
    limit = max(op.max_body, BODY_LIMIT)
    bads = [
        Bad("malformed", b'{"zz": "' + c + b'", ', 400, "malformed_json"),
        Bad("not-utf8", b'{"zz": "\xff\xfe' + c + b'"}', 400, "malformed_json"),
        Bad("deep-nesting", b"[" * 30000, 400, "malformed_json"),
        Bad("array", _json([CANARY]), 422, "invalid_body"),
        Bad("string", _json(CANARY), 422, "invalid_body"),
        Bad("null", b"null", 422, "invalid_body"),
        Bad("oversized", _json({"pad": CANARY + "a" * limit}), 413, "payload_too_large"),
        Bad("oversized-chunked", _chunked(limit + 4096), 413, "payload_too_large"),
    ]
    if op.free_form:
        return bads
    bads.append(
        Bad(
            "unknown-field",
            _json({**minimal(op), UNKNOWN: CANARY}),
            422,
            "invalid_body",
            frozenset({UNKNOWN}),
        )
    )
    bads.append(
        Bad(
            "unknown-field-named-canary",
            _json({**minimal(op), CANARY: "x"}),
            422,
            "invalid_body",
            frozenset({CANARY}),
        )
    )
    if op.required:
        bads.append(Bad("empty", b"", 400, "malformed_json"))
        bads.append(Bad("no-required", b"{}", 422, "invalid_body", frozenset(op.required)))
    if op.properties:
        wrong = {name: wrong_type(prop) for name, prop in op.properties.items()}
        bads.append(Bad("wrong-types", _json(wrong), 422, "invalid_body", frozenset(wrong)))
    long = {n: p["maxLength"] for n, p in op.properties.items() if "maxLength" in p}
    if long:
        body = {
            **minimal(op),
            **{n: (CANARY * (m // len(CANARY) + 2))[: m + 1] for n, m in long.items()},
        }
        bads.append(Bad("too-long", _json(body), 422, "invalid_body", frozenset(long)))
    return bads


# Strings of the right type that a store may choke on: they reach the handlers.
EDGE_STRINGS = {
    "nul": CANARY + "\x00end",
    "lone-surrogate": CANARY + "\ud800",
    "rtl-emoji": CANARY + "\u202e\U0001f600",
}


def edge_bodies(op: Op) -> dict[str, bytes]:
    """Type-correct bodies filled with hard strings (and strings of exactly maxLength)."""
    if not op.properties:
        return {}

    def fill(edge: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, prop in op.properties.items():
            kind = _types(prop)[0]
            text = edge if edge is not None else (CANARY * 200)[: prop.get("maxLength", 200)]
            if kind == "string":
                body[name] = text
            elif kind == "object":
                body[name] = {"name": text}
            else:
                body[name] = plausible(prop)
        return body

    bodies = {label: _json(fill(edge)) for label, edge in EDGE_STRINGS.items()}
    bodies["at-max-length"] = _json(fill(None))
    return bodies


# -- sending and judging -------------------------------------------------------------------


class Probe:
    """Sends requests, records every way an answer breaks the rules, reports them at once.

    Problems are grouped by what went wrong (the body's label, the status, the rule), so
    one root cause hit by forty requests reads as one line with a count and examples.
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.problems: dict[str, list[str]] = {}
        self.sent = 0

    def note(self, kind: str, where: str) -> None:
        self.problems.setdefault(kind, []).append(where)

    def send(
        self,
        label: str,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | Callable[[], Iterator[bytes]] | None = None,
        *,
        expect: Mapping[int, str | None] | None = None,
        fields: Collection[str] = (),
        echo_ok: bool = False,
    ) -> httpx.Response | None:
        """`expect` maps each acceptable status to its error code (None: any code)."""
        hdrs = dict(headers)
        if content is not None:
            hdrs["Content-Type"] = "application/json"
            if callable(content):
                content = content()
        kind_prefix = label.split(" [")[0]
        where = f"{method} {url[:80]}" + (f" [{label.split(' [')[1]}" if " [" in label else "")
        self.sent += 1
        try:
            r = self.client.request(method, url, headers=hdrs, content=content)
        except httpx.HTTPError as exc:
            self.note(f"{kind_prefix}: transport error {exc.__class__.__name__}", where)
            return None
        for problem in judge(r, expect, fields, echo_ok):
            self.note(f"{kind_prefix} -> {r.status_code}: {problem}", where)
        return r

    def assert_clean(self) -> None:
        assert self.sent > 0
        if self.problems:
            lines = []
            for kind, wheres in sorted(self.problems.items(), key=lambda kv: -len(kv[1])):
                examples = "; ".join(sorted(set(wheres))[:3])
                lines.append(f"[{len(wheres)}x] {kind}\n        e.g. {examples}")
            count = sum(len(w) for w in self.problems.values())
            raise AssertionError(
                f"{count} of {self.sent} answers broke the rules:\n" + "\n".join(lines[:40])
            )


def judge(
    r: httpx.Response,
    expect: Mapping[int, str | None] | None,
    fields: Collection[str],
    echo_ok: bool,
) -> list[str]:
    problems = []
    if r.status_code >= 500:
        problems.append(f"server error {r.text[:80]}")
    elif expect is not None and r.status_code not in expect:
        problems.append(f"expected {sorted(expect)}: {r.text[:160]}")
    if 400 <= r.status_code < 500:
        try:
            body = r.json()
        except ValueError:
            return [*problems, f"error body is not JSON: {r.text[:120]!r}"]
        if not (
            isinstance(body, dict)
            and isinstance(body.get("error"), str)
            and isinstance(body.get("message"), str)
        ):
            problems.append(f"error body is not {{error, message}}: {r.text[:160]}")
        elif expect is not None and (code := expect.get(r.status_code)) is not None:
            if body["error"] != code:
                problems.append(f"error {body['error']!r}, expected {code!r}")
            if fields and r.status_code == 422:
                named = set(body.get("fields") or {})
                missing = {f for f in fields if f not in named}
                if UNKNOWN_MARKER in named:  # unknown names flagged without repeating them
                    missing -= {UNKNOWN, CANARY}
                if missing:
                    problems.append(f"fields {sorted(missing)} not named: {r.text[:160]}")
    if not echo_ok or r.status_code >= 400:
        headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        if CANARY in r.text or CANARY in headers:
            problems.append(f"echoes the canary: {r.text[:160]}")
    return problems


# -- fixtures ------------------------------------------------------------------------------


@dataclass
class Real:
    """Real resources of one site, for path parameters that reach the handlers."""

    desk: Desk
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def real(stack: Stack) -> Real:
    desk = Desk.make(stack)
    sent = desk.send()
    assert desk.submit(desk.open(sent), card_values()).status_code == 202
    event = desk.wait_submitted(sent.request_id)
    throwaway_id, _ = stack.new_agent(desk.admin)
    return Real(
        desk,
        {
            "conversation_id": sent.conversation_id,
            "request_id": sent.request_id,
            "submission_id": event["submission_id"],
            "form_id": desk.form_id,
            "user_id": throwaway_id,
        },
    )


@pytest.fixture(scope="module")
def ops(stack: Stack) -> list[Op]:
    return route_table(stack)


def headers_for(role: str, real: Real) -> dict[str, str]:
    return {"none": {}, "admin": real.desk.admin, "agent": real.desk.agent}[role]


def walk_headers(role: str, real: Real, op: Op) -> dict[str, str]:
    """The role's usual session, or a throwaway user's for a body that asks for the current
    password again: wrong ones count toward the lock-out (core.lockout), and the sessions
    the rest of the module uses must outlive the walk."""
    if role == "none" or "current_password" not in op.properties:
        return headers_for(role, real)
    stack = real.desk.stack
    _, username, password = stack.new_user(real.desk.admin, role)
    return stack.login(username, password)


def _with_auth_alternatives(
    op: Op, role: str, expect: dict[int, str | None], junk: bool
) -> dict[int, str | None]:
    expect = dict(expect)
    if op.secured and role == "none":
        expect[401] = "unauthenticated"  # were auth checked before the body
    if junk:
        expect.setdefault(404, "not_found")  # the junk left no route to match
        expect.setdefault(405, "method_not_allowed")
    return expect


def fillers(op: Op, real: Real | None) -> list[tuple[str, Callable[[str], str], bool]]:
    """(label, param -> value, is_junk) for the path parameters of an operation."""
    if not op.params:
        return [("-", str, False)]
    out: list[tuple[str, Callable[[str], str], bool]] = [
        ("uuid", lambda _: str(uuid.uuid4()), False)
    ]
    if real is not None:
        out.append(("real", lambda name: real.ids.get(name, str(uuid.uuid4())), False))
    out += [(f"junk {j[:12]!r}", lambda _, j=j: j, True) for j in JUNK_PARAMS]
    return out


# -- the walk ------------------------------------------------------------------------------


def test_the_walk_covers_the_contract(ops: list[Op]) -> None:
    seen = {str(op) for op in ops}
    for must in (
        "POST /api/v1/auth/login",
        "POST /api/v1/users",
        "POST /api/v1/forms",
        "POST /api/v1/conversations",
        "POST /api/v1/conversations/{conversation_id}/secure-forms",
        "POST /api/v1/visitor/open",
        "POST /api/v1/visitor/submit",
        "POST /api/v1/visitor/extend",
        "GET /api/v1/agent/events",
        "POST /api/v1/submissions/{submission_id}/reveal",
    ):
        assert must in seen, must
    assert all(op.schema is not None for op in ops if str(op) == "POST /api/v1/visitor/submit")


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_refuses_bad_bodies(
    stack: Stack, ops: list[Op], real: Real, role: str
) -> None:
    with stack.client() as c:
        probe = Probe(c)
        for op in ops:
            if not op.takes_body:
                continue
            for where, fill, junk in fillers(op, None):
                url = op.url(fill)
                for bad in bad_bodies(op):
                    expect = _with_auth_alternatives(op, role, {bad.status: bad.code}, junk)
                    probe.send(
                        f"{bad.label} [{role}, {where}]",
                        op.method,
                        url,
                        headers_for(role, real),
                        bad.content,
                        expect=expect,
                        fields=bad.fields,
                    )
        probe.assert_clean()


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_survives_hard_strings(
    stack: Stack, ops: list[Op], real: Real, role: str
) -> None:
    """Right types, hard contents: any answer but a 500; errors in shape, no echo."""
    with stack.client() as c:
        probe = Probe(c)
        for op in ops:
            headers = walk_headers(role, real, op)
            for where, fill, _junk in fillers(op, real):
                url = op.url(fill)
                for label, content in edge_bodies(op).items():
                    probe.send(
                        f"{label} [{role}, {where}]",
                        op.method,
                        url,
                        headers,
                        content,
                        echo_ok=True,
                    )
        probe.assert_clean()


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_survives_odd_path_parameters(
    stack: Stack, ops: list[Op], real: Real, role: str
) -> None:
    """No body (or the empty object) and ids that are random, real or junk."""
    with stack.client() as c:
        probe = Probe(c)
        for op in ops:
            if op.takes_body and (not op.params or (op.method, op.path) in NEVER_EMPTY):
                continue  # nothing here to vary; and a body-less POST would act
            for where, fill, _junk in fillers(op, real if op.method == "GET" else None):
                content = None
                if op.takes_body and op.required:
                    content = _json(minimal(op))
                probe.send(
                    f"no body [{role}, {where}]",
                    op.method,
                    op.url(fill),
                    headers_for(role, real),
                    content,
                    echo_ok=True,  # a 2xx may read back what other tests stored
                )
        probe.assert_clean()


def test_every_path_refuses_a_method_it_does_not_have(stack: Stack, ops: list[Op]) -> None:
    by_path: dict[str, set[str]] = {}
    for op in ops:
        by_path.setdefault(op.path, set()).add(op.method)
    with stack.client() as c:
        probe = Probe(c)
        for path, methods in by_path.items():
            other = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in methods)
            url = Op(other, path, False, None).url(lambda _: str(uuid.uuid4()))
            probe.send("wrong method", other, url, {}, expect={405: "method_not_allowed"})
        probe.send("no route", "GET", f"{API}/{CANARY}", {}, expect={404: "not_found"})
        probe.assert_clean()


# -- the visitor's submit ------------------------------------------------------------------


@pytest.fixture(scope="module")
def desk(real: Real) -> Desk:
    return real.desk


def _opened(desk: Desk) -> tuple[Sent, str]:
    sent = desk.send()
    return sent, desk.open(sent)


def test_submit_values_must_be_an_object(stack: Stack, desk: Desk) -> None:
    sent, submit_otk = _opened(desk)
    with stack.client() as c:
        probe = Probe(c)
        for values in ([CANARY], CANARY, 4242424242424242, True, None):
            body = {"otk": submit_otk, "values": values}
            probe.send(
                f"values={type(values).__name__}",
                "POST",
                f"{API}/visitor/submit",
                {},
                _json(body),
                expect={422: "invalid_body"},
                fields=["values"],
            )
        probe.assert_clean()
    assert desk.submit(submit_otk, card_values()).status_code == 202  # the key survived
    desk.wait_submitted(sent.request_id)


def test_submit_names_an_unknown_answer_and_keeps_the_key(stack: Stack, desk: Desk) -> None:
    sent, submit_otk = _opened(desk)
    r = desk.submit(submit_otk, {**card_values(), UNKNOWN: CANARY})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_failed"
    assert set(body["fields"]) in ({UNKNOWN}, {UNKNOWN_MARKER}), body
    assert CANARY not in r.text
    # A value pasted where a name goes is not repeated either.
    r = desk.submit(submit_otk, {**card_values(), CANARY: "x"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_failed"
    assert CANARY not in r.text
    assert desk.submit(submit_otk, card_values()).status_code == 202
    desk.wait_submitted(sent.request_id)


def _submit(stack: Stack, otk: str, values: dict[str, Any]) -> httpx.Response:
    """Like Desk.submit, but ASCII-escaped JSON, so lone surrogates can be sent."""
    with stack.client() as c:
        return c.post(
            f"{API}/visitor/submit",
            content=_json({"otk": otk, "values": values}),
            headers={"Content-Type": "application/json"},
        )


def test_hard_strings_in_answers_never_break_the_flow(stack: Stack, desk: Desk) -> None:
    """Neither a lone surrogate nor NUL can be stored: the body is refused at the edge
    (422 invalid_body, nothing written) and the key stays usable."""
    sent, submit_otk = _opened(desk)
    r = _submit(stack, submit_otk, card_values(name=EDGE_STRINGS["lone-surrogate"]))
    assert (r.status_code, r.json()["error"]) == (422, "invalid_body"), r.text
    assert CANARY not in r.text
    assert desk.submit(submit_otk, card_values()).status_code == 202
    desk.wait_submitted(sent.request_id)

    sent, submit_otk = _opened(desk)
    r = _submit(stack, submit_otk, card_values(name=EDGE_STRINGS["nul"]))
    assert (r.status_code, r.json()["error"]) == (422, "invalid_body"), r.text
    assert CANARY not in r.text
    assert desk.submit(submit_otk, card_values()).status_code == 202
    desk.wait_submitted(sent.request_id)


def test_an_otk_must_be_a_string(stack: Stack, real: Real) -> None:
    sid = real.ids["submission_id"]
    with stack.client() as c:
        probe = Probe(c)
        for path, headers in (
            ("/visitor/open", {}),
            ("/visitor/submit", {}),
            ("/visitor/extend", {}),
            (f"/submissions/{sid}/reveal", real.desk.agent),
        ):
            for otk in (4242424242424242, 1.5, True, [CANARY], {"otk": CANARY}, None):
                body: dict[str, Any] = {"otk": otk}
                if path.endswith("submit"):
                    body["values"] = card_values()
                probe.send(
                    f"otk={otk!r}"[:30],
                    "POST",
                    API + path,
                    headers,
                    _json(body),
                    expect={422: "invalid_body"},
                    fields=["otk"],
                )
            probe.send(
                "otk too long",
                "POST",
                API + path,
                headers,
                _json({"otk": CANARY * 5, "values": {}}),
                expect={422: "invalid_body"},
                fields=["otk"],
            )
        probe.assert_clean()


BAD_OTKS = {
    "empty": "",
    "short": "abc",
    "19 chars": "x" * 19,
    "garbage": CANARY,
    "spaces": " " * 40,
    "max length": (CANARY * 5)[:128],
    "emoji": CANARY + "\U0001f511",
}
# Text no store can hold is refused for the whole body, before any key is looked at.
UNSTORABLE_OTKS = {"nul": CANARY + "\x00" * 8, "lone surrogate": CANARY + "\udfff"}


def test_every_bad_otk_gets_one_identical_410(stack: Stack, desk: Desk) -> None:
    """Whatever is wrong with a key, the answer says nothing about what."""
    done_sent = desk.send()
    submit_otk = desk.open(done_sent)
    assert desk.submit(submit_otk, card_values()).status_code == 202
    event = desk.wait_submitted(done_sent.request_id)
    assert desk.reveal(event["submission_id"], event["retrieve_otk"]).status_code == 200
    spent = {
        "spent open": done_sent.otk,
        "spent submit": submit_otk,
        "spent retrieve": event["retrieve_otk"],
    }
    bodies: dict[bytes, list[str]] = {}
    with stack.client() as c:
        probe = Probe(c)
        for path, headers in (
            ("/visitor/open", {}),
            ("/visitor/submit", {}),
            ("/visitor/extend", {}),
            (f"/submissions/{event['submission_id']}/reveal", desk.agent),
        ):
            for label, otk in {**BAD_OTKS, **spent}.items():
                body: dict[str, Any] = {"otk": otk}
                if path.endswith("submit"):
                    body["values"] = card_values()
                r = probe.send(
                    label,
                    "POST",
                    API + path,
                    headers,
                    _json(body),
                    expect={410: "invalid_or_expired"},
                )
                if r is not None and r.status_code == 410:
                    bodies.setdefault(r.content, []).append(f"{path} {label}")
            for label, otk in UNSTORABLE_OTKS.items():
                body = (
                    {"otk": otk, "values": card_values()}
                    if path.endswith("submit")
                    else {"otk": otk}
                )
                probe.send(
                    label,
                    "POST",
                    API + path,
                    headers,
                    _json(body),
                    expect={422: "invalid_body"},
                )
        probe.assert_clean()
    assert len(bodies) == 1, bodies


# -- agent events --------------------------------------------------------------------------


def test_the_events_query_is_checked(stack: Stack, desk: Desk) -> None:
    url = f"{API}/agent/events"
    with stack.client() as c:
        probe = Probe(c)
        for after in (
            CANARY,
            "1-",
            "-1",
            "1-0-0",
            "1-0\n",
            "1.5-0",
            "99999999999999999999-0",
            "18446744073709551616-0",
            "$",
            "+",
        ):
            probe.send(
                f"after={after!r}",
                "GET",
                httpx.URL(url, params={"after": after, "wait": "0"}).raw_path.decode(),
                desk.agent,
                expect={422: "invalid_query"},
            )
        for wait in ("99", "30.5", "-1", "nan", "inf", "-inf", "1e400", CANARY, "0x10"):
            probe.send(
                f"wait={wait!r}",
                "GET",
                httpx.URL(url, params={"after": "0", "wait": wait}).raw_path.decode(),
                desk.agent,
                expect={422: "invalid_query"},
            )
        # SSE: a good cursor would start an endless stream, so only the status is read.
        for last in (CANARY, "1-", "99999999999999999999-0"):
            headers = {**desk.agent, "Accept": "text/event-stream", "Last-Event-ID": last}
            with c.stream("GET", url, headers=headers) as r:
                kind = f"Last-Event-ID={last!r} (SSE) -> {r.status_code}"
                if r.status_code == 200:
                    probe.note(f"{kind}: a stream began; expected 422 invalid_query", url)
                    continue
                r.read()
                for problem in judge(r, {422: "invalid_query"}, (), False):
                    probe.note(f"{kind}: {problem}", url)
        for ok in ("0", "0-0", "1-0", "18446744073709551615-0"):
            probe.send(
                f"after={ok!r}",
                "GET",
                httpx.URL(url, params={"after": ok, "wait": "0"}).raw_path.decode(),
                desk.agent,
                expect={200: None},
                echo_ok=True,  # chat messages other tests posted come back as events
            )
        probe.assert_clean()


# -- log-in --------------------------------------------------------------------------------


def test_login_failures_are_indistinguishable(stack: Stack, desk: Desk) -> None:
    username, password = f"agent-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    with stack.client() as c:
        r = c.post(
            f"{API}/users",
            headers=desk.admin,
            json={"username": username, "password": password, "role": "agent"},
        )
        assert r.status_code == 201, r.text
        attempts = {
            "wrong password": (stack.site_id, username, password + "x"),
            "unknown user": (stack.site_id, "nobody-" + CANARY, password),
            "unknown site": (str(uuid.uuid4()), username, password),
            "junk site": (CANARY, username, password),
            "empty username": (stack.site_id, "", password),
            "empty password": (stack.site_id, username, ""),
        }
        answers: dict[str, httpx.Response] = {}
        for label, (site_id, user, pw) in attempts.items():
            answers[label] = c.post(
                f"{API}/auth/login",
                json={"site_id": site_id, "username": user, "password": pw},
            )
        # Two wrong passwords stay below the lock-out limit.
        assert stack.login(username, password)
    for label, r in answers.items():
        assert r.status_code == 401, f"{label}: {r.text}"
        assert r.json()["error"] == "invalid_credentials", label
        assert CANARY not in r.text
    assert len({r.content for r in answers.values()}) == 1, {k: r.text for k, r in answers.items()}


# -- strings a database can't hold, on real resources --------------------------------------


def test_hard_strings_on_real_resources_are_refused_not_crashed(stack: Stack, real: Real) -> None:
    desk = real.desk
    cid = real.ids["conversation_id"]
    with stack.client() as c:
        probe = Probe(c)
        for label, text in EDGE_STRINGS.items():
            for method, path, headers, body in (
                ("POST", f"/conversations/{cid}/messages", desk.agent, {"text": text}),
                ("POST", "/conversations", desk.agent, {"visitor": {"name": text}}),
                (
                    "POST",
                    "/users",
                    desk.admin,
                    {"username": text, "password": "pw-" + uuid.uuid4().hex, "role": "agent"},
                ),
                (
                    "POST",
                    "/users",
                    desk.admin,
                    {
                        "username": f"u-{uuid.uuid4().hex[:8]}",
                        "password": "pw-" + uuid.uuid4().hex + text,
                        "role": "agent",
                        "display_name": text,
                    },
                ),
                ("PATCH", f"/users/{real.ids['user_id']}", desk.admin, {"display_name": text}),
                ("PATCH", f"/users/{real.ids['user_id']}", desk.admin, {"profile_id": text}),
                (
                    "POST",
                    "/auth/login",
                    {},
                    {"site_id": stack.site_id, "username": text, "password": text},
                ),
                ("POST", f"/conversations/{cid}/secure-forms", desk.agent, {"form_id": text}),
                ("POST", f"/conversations/{cid}/participants", desk.agent, {"agent_id": text}),
            ):
                probe.send(
                    f"{label} {method} {path.split('/')[1]}",
                    method,
                    API + path,
                    headers,
                    None if body is None else _json(body),
                    echo_ok=True,
                )
            if label != "lone-surrogate":  # not expressible in a URL
                probe.send(
                    f"{label} GET forms/{{id}}",
                    "GET",
                    f"{API}/forms/{quote(text, safe='')}",
                    desk.admin,
                    echo_ok=True,
                )
        # Ids as long as the body allows: longer than the columns (36) that hold them.
        for name in ("profile_id",):
            probe.send(
                f"{name} at max length",
                "PATCH",
                f"{API}/users/{real.ids['user_id']}",
                desk.admin,
                _json({name: "p" * 64}),
                echo_ok=True,
            )
        probe.send(
            "profile_id at max length on create",
            "POST",
            f"{API}/users",
            desk.admin,
            _json(
                {
                    "username": f"u-{uuid.uuid4().hex[:8]}",
                    "password": "pw-" + uuid.uuid4().hex,
                    "role": "agent",
                    "profile_id": "p" * 64,
                }
            ),
            echo_ok=True,
        )
        probe.assert_clean()


# -- form definitions (admin) --------------------------------------------------------------


def test_form_definition_errors_name_the_problem_without_echoing_it(
    stack: Stack, desk: Desk
) -> None:
    definition = {**PAYMENT_FORM, "name": CANARY}
    with stack.client() as c:
        probe = Probe(c)
        probe.send("create", "POST", f"{API}/forms", desk.admin, _json(definition), echo_ok=True)
        probe.send(
            "same name again",
            "POST",
            f"{API}/forms",
            desk.admin,
            _json(definition),
            expect={409: "conflict"},
        )
        fields = [dict(PAYMENT_FORM["fields"][0], name=CANARY)] * 2
        probe.send(
            "duplicate field names",
            "POST",
            f"{API}/forms",
            desk.admin,
            _json({**PAYMENT_FORM, "name": "dup_fields", "fields": fields}),
            expect={422: "validation_failed"},
        )
        probe.send(
            "unknown top-level key",
            "POST",
            f"{API}/forms",
            desk.admin,
            _json({**PAYMENT_FORM, "name": "unknown_key", UNKNOWN: CANARY}),
            expect={422: "validation_failed"},
            fields=[UNKNOWN],
        )
        probe.send(
            "unknown key on update",
            "PUT",
            f"{API}/forms/{desk.form_id}",
            desk.admin,
            _json({**PAYMENT_FORM, UNKNOWN: CANARY}),
            expect={422: "validation_failed"},
            fields=[UNKNOWN],
        )
        for label, bad_field in (
            ("type", {"name": "f", "label": CANARY, "type": CANARY}),
            ("pattern", {"name": "f", "label": "L", "type": "text", "pattern": CANARY + "(("}),
            ("options", {"name": "f", "label": "L", "type": "select", "options": CANARY}),
            ("min", {"name": "f", "label": "L", "type": "number", "min": CANARY}),
        ):
            probe.send(
                f"bad field {label}",
                "POST",
                f"{API}/forms",
                desk.admin,
                _json({"name": "bad_field", "title": "T", "fields": [bad_field]}),
                expect={422: "validation_failed"},
            )
        probe.assert_clean()
