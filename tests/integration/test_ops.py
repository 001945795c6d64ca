"""Operations endpoints, headers, the OpenAPI document and SSE, against the real server."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
from support.flow import Desk, card_values
from support.shown import shows
from support.stack import CLI, ROOT, Stack, free_port

CONTRACT_PATHS = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users"),
    ("patch", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/forms"),
    ("get", "/api/v1/forms"),
    ("get", "/api/v1/forms/{form_id}"),
    ("put", "/api/v1/forms/{form_id}"),
    ("delete", "/api/v1/forms/{form_id}"),
    ("post", "/api/v1/conversations"),
    ("post", "/api/v1/conversations/{conversation_id}/participants"),
    ("post", "/api/v1/conversations/{conversation_id}/transfer"),
    ("post", "/api/v1/conversations/{conversation_id}/close"),
    ("post", "/api/v1/conversations/{conversation_id}/messages"),
    ("get", "/api/v1/conversations/{conversation_id}/transcript"),
    ("post", "/api/v1/conversations/{conversation_id}/secure-forms"),
    ("get", "/api/v1/secure-forms/{request_id}"),
    ("post", "/api/v1/visitor/open"),
    ("post", "/api/v1/visitor/submit"),
    ("post", "/api/v1/visitor/extend"),
    ("get", "/api/v1/agent/events"),
    ("post", "/api/v1/submissions/{submission_id}/retrieve-otk"),
    ("post", "/api/v1/submissions/{submission_id}/reveal"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
}


def test_health_readiness_and_metrics(stack: Stack) -> None:
    with stack.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {
            "app_db": True,
            "vault_db": True,
            "vault_writable": True,
            "redis": True,
            "broker": True,
        }
        metrics = c.get("/metrics").text
        assert 'route="/healthz",status="200"' in metrics


def test_openapi_documents_the_whole_contract(stack: Stack) -> None:
    with stack.client() as c:
        doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented >= CONTRACT_PATHS


def test_security_headers_on_every_answer(stack: Stack) -> None:
    with stack.client() as c:
        for response in (c.get("/healthz"), c.get("/nope"), c.post("/api/v1/visitor/open")):
            h = response.headers
            assert "object-src 'none'" in h["content-security-policy"]
            assert "base-uri 'none'" in h["content-security-policy"]
            assert h["strict-transport-security"].startswith("max-age=")
            assert h["x-content-type-options"] == "nosniff"
        assert c.get("/nope").json()["error"] == "not_found"
        assert (
            c.post("/api/v1/visitor/open", json={"otk": "x" * 40}).headers["cache-control"]
            == "no-store"
        )


def test_readyz_says_503_when_stores_are_down(tmp_path) -> None:
    port = free_port()
    dead = free_port()
    env = {
        "SECUREFORMS_ENV": "test",
        "SECUREFORMS_DATA_DIR": str(tmp_path),
        "SECUREFORMS_APP_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{dead}/x",
        "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{tmp_path}/vault.sqlite3",
        "SECUREFORMS_REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        "SECUREFORMS_BROKER_URL": f"redis://127.0.0.1:{dead}/1",
        "SECUREFORMS_PUBLISH_TIMEOUT_S": "0.5",
        "PYTHONPATH": str(ROOT),
        "PATH": "/usr/bin:/bin",
    }
    with (tmp_path / "api.log").open("wb") as log:
        proc = subprocess.Popen(
            [*CLI, "api", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log
        )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {
            "app_db": False,
            "vault_db": True,
            "vault_writable": True,
            "redis": False,
            "broker": False,
        }
    finally:
        proc.terminate()
        proc.wait(10)


def _read_sse(response: httpx.Response, want: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "id" in current:
                events.append(current)
                if len(events) == want:
                    return events
            current = {}
            continue
        name, _, value = line.partition(": ")
        if name in ("id", "event", "data"):
            current[name] = value
    return events


def test_agent_events_stream_as_sse_and_resume_with_last_event_id(stack: Stack) -> None:
    desk = Desk.make(stack)
    first, second = desk.send(), desk.send()
    headers = {**desk.agent, "Accept": "text/event-stream"}
    with (
        httpx.Client(base_url=stack.base_url, timeout=30) as c,
        c.stream("GET", "/api/v1/agent/events", headers=headers) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        desk.open(first)
        opened = _read_sse(response, 1)
    assert opened[0]["event"] == "secure_form.opened"
    assert json.loads(opened[0]["data"])["request_id"] == first.request_id

    # While disconnected, more happens; resuming from the last id delivers only that.
    submit_otk = desk.open(second)
    assert desk.submit(submit_otk, card_values()).status_code == 202
    resume = {**headers, "Last-Event-ID": opened[0]["id"]}
    with (
        httpx.Client(base_url=stack.base_url, timeout=30) as c,
        c.stream("GET", "/api/v1/agent/events", headers=resume) as response,
    ):
        later = _read_sse(response, 2)
    assert [e["event"] for e in later] == ["secure_form.opened", "secure_form.submitted"]
    assert all(json.loads(e["data"])["request_id"] == second.request_id for e in later)
    assert not shows(json.dumps(later), "4242", "4242424242424242")


def test_an_event_stream_ends_with_its_session(stack: Stack) -> None:
    """A disabled agent's open stream delivers nothing more and closes: a stream may not
    outlive the session that opened it (sign-out, disabling, a new password, idling)."""
    desk = Desk.make(stack)
    first, second = desk.send(), desk.send()
    headers = {**desk.agent, "Accept": "text/event-stream"}
    with (
        httpx.Client(base_url=stack.base_url, timeout=60) as c,
        c.stream("GET", "/api/v1/agent/events", headers=headers) as response,
    ):
        lines = response.iter_lines()
        desk.open(first)
        assert "event: secure_form.opened" in iter(lines)  # reads up to that line
        r = c.patch(f"/api/v1/users/{desk.agent_id}", headers=desk.admin, json={"enabled": False})
        assert r.status_code == 200, r.text
        desk.open(second)  # would be this agent's next event
        rest, deadline = [], time.monotonic() + 45
        for line in lines:  # keep-alives come every 15 s, so this loop wakes up
            rest.append(line)
            assert time.monotonic() < deadline, "the stream outlived its session"
    assert "event: secure_form.opened" not in rest
    assert second.request_id not in "\n".join(rest)
