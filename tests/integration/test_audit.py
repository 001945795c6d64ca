"""The audit trail over HTTP and the CLI, against the real api, worker and databases: what
is recorded (who, what, when, outcome, origin, resource) for every audited event, the
admin's filters, that no submitted value is ever in it, that purges leave it alone, and
that `secureforms audit verify` fails, naming the entry, once the stored trail is tampered
with."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from support.audit_trail import unguarded
from support.flow import Desk, card_values
from support.sites import OwnSite
from support.stack import PAYMENT_FORM, Stack

CARD = "4000056655665556"
CVV = "739"
HOLDER = "Grace Hopper"


def one(trail: list[dict[str, Any]], type: str, **match: Any) -> dict[str, Any]:
    found = [e for e in trail if e["type"] == type and all(e[k] == v for k, v in match.items())]
    assert len(found) == 1, (type, match, [e for e in trail if e["type"] == type])
    return found[0]


@dataclass
class Busy:
    site: OwnSite
    ids: dict[str, str]


@pytest.fixture(scope="module")
def busy(stack: Stack) -> Busy:
    """A site that has done one of everything that is audited."""
    site = OwnSite.make(stack)
    definition = {**PAYMENT_FORM, "name": f"payment_{uuid.uuid4().hex[:8]}"}
    form_id = stack.create_form(site.admin, definition)
    agent_id, username, password = site.user("agent")
    agent = site.login(username, password)
    desk = Desk(stack, site.admin, form_id, agent_id, agent)
    for _ in range(3):
        site.call(
            "POST",
            "/auth/login",
            body={"site_id": site.site_id, "username": username, "password": "wrong-password"},
        )
    assert (
        site.call("PATCH", f"/users/{agent_id}", site.admin, {"enabled": True}).status_code == 200
    )
    desk.agent = site.login(username, password)
    sent = desk.send()
    assert (
        desk.submit(desk.open(sent), card_values(card=CARD, cvv=CVV, name=HOLDER)).status_code
        == 202
    )
    event = desk.wait_submitted(sent.request_id)
    assert desk.reveal(event["submission_id"], event["retrieve_otk"]).status_code == 200
    r = site.call(
        "POST",
        "/profiles",
        site.admin,
        {"name": "Reviewers", "role": "manager", "permissions": ["secure_forms.view_history"]},
    )
    profile_id = r.json()["id"]
    manager_id, m_user, m_password = site.user("manager")
    site.call("PATCH", f"/users/{manager_id}", site.admin, {"profile_id": profile_id})
    manager = site.login(m_user, m_password)
    assert (
        site.call("POST", f"/conversations/{sent.conversation_id}/close", desk.agent).status_code
        == 200
    )
    r = site.call("POST", f"/submissions/{event['submission_id']}/history-reveal", manager)
    assert r.status_code == 200, r.text
    assert (
        site.call("PUT", "/site/policies", site.admin, {"retention_days": 200}).status_code == 200
    )
    # A form's life: edited (a new version) and archived, by the admin.
    current = site.call("GET", f"/forms/{form_id}", site.admin).json()
    edited = {k: current[k] for k in ("name", "title", "fields")} | {"title": "Pay by card"}
    assert site.call("PUT", f"/forms/{form_id}", site.admin, edited).status_code == 200
    spare = stack.create_form(site.admin, {**PAYMENT_FORM, "name": f"spare_{uuid.uuid4().hex[:6]}"})
    assert site.call("DELETE", f"/forms/{spare}", site.admin).status_code in (200, 204)
    # Refusals are audited too: an agent at the admin's door, a reveal by the wrong agent.
    assert site.call("GET", "/users", desk.agent).status_code == 403
    _, o_user, o_password = site.user("agent")
    other = site.login(o_user, o_password)
    r = desk.reveal(event["submission_id"], event["retrieve_otk"], other)
    assert (r.status_code, r.json()["error"]) == (403, "forbidden"), r.text  # not the sender
    return Busy(
        site,
        {
            "agent_id": agent_id,
            "form_id": form_id,
            "spare_form_id": spare,
            "manager_id": manager_id,
            "profile_id": profile_id,
            "conversation_id": sent.conversation_id,
            "request_id": sent.request_id,
            "submission_id": event["submission_id"],
        },
    )


def test_every_audited_event_says_who_what_when_outcome_origin_and_resource(
    busy: Busy,
) -> None:
    ids, site = busy.ids, busy.site
    trail = site.trail(limit="1000")
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert all(
        set(e) >= {"id", "at", "type", "user_id", "outcome", "origin", "resource"} for e in trail
    )
    assert all(datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in trail)
    agent, request = ids["agent_id"], ids["request_id"]
    failures = [e for e in trail if e["type"] == "auth.login" and e["outcome"] == "failure"]
    assert len(failures) == 3 and {e["user_id"] for e in failures} == {agent}
    lockout = one(trail, "auth.lockout")
    assert (lockout["user_id"], lockout["outcome"]) == (agent, "failure")
    enabled = one(trail, "user.changed", resource=f"user:{agent};enabled=true")
    assert enabled["user_id"] == site.admin_id
    logins = [e for e in trail if e["type"] == "auth.login" and e["outcome"] == "success"]
    assert {e["origin"] for e in logins} == {"127.0.0.1"}
    admin = site.admin_id
    assert (
        one(trail, "form.created", resource=f"form:{ids['form_id']};version:1")["user_id"] == admin
    )
    assert (
        one(trail, "form.updated", resource=f"form:{ids['form_id']};version:2")["user_id"] == admin
    )
    assert one(trail, "form.archived", resource=f"form:{ids['spare_form_id']}")["user_id"] == admin
    sent = one(trail, "form.sent")
    assert sent["user_id"] == agent and f"request:{request}" in sent["resource"]
    assert one(trail, "form.opened")["user_id"] is None  # the visitor: no account
    submitted = one(trail, "form.submitted")
    assert submitted["origin"] == "worker"
    assert submitted["resource"] == f"request:{request};submission:{ids['submission_id']}"
    revealed = one(trail, "form.revealed", outcome="success")
    assert revealed["user_id"] == agent and revealed["origin"] == "127.0.0.1"
    assert f"submission:{ids['submission_id']}" in revealed["resource"]
    refused = one(trail, "form.revealed", outcome="failure")
    assert refused["user_id"] != agent and "error=" in refused["resource"]
    history = one(trail, "form.history_revealed")
    assert history["user_id"] == ids["manager_id"]
    assert one(trail, "profile.changed")["resource"].startswith(
        f"profile:{ids['profile_id']};created"
    )
    assert "retention_days=200" in one(trail, "policy.changed")["resource"]
    denied = one(trail, "access.denied")
    assert (denied["user_id"], denied["resource"]) == (agent, "GET /api/v1/users")


def test_no_submitted_value_is_ever_in_the_trail(busy: Busy) -> None:
    answer = busy.site.call("GET", "/audit?limit=1000", busy.site.admin).text
    engine = busy.site.stack.engines()["app"]
    with engine.connect() as conn:
        stored = json.dumps(
            [list(map(str, r)) for r in conn.execute(sa.text("SELECT * FROM audit_events"))]
        )
    engine.dispose()
    for value in (CARD, CVV, HOLDER, "12/34"):
        # Not inside an id or a hash: three digits turn up in hex by chance.
        alone = re.compile(rf"(?<![0-9a-f-]){re.escape(value)}(?![0-9a-f-])")
        assert not alone.search(answer) and not alone.search(stored), value


def test_the_admin_filters_the_trail(busy: Busy) -> None:
    site = busy.site
    everything = site.trail(limit="1000")
    forms = site.trail(type="form.")
    assert forms and {e["type"].split(".")[0] for e in forms} == {"form"}
    assert {e["type"] for e in site.trail(type="auth.lockout")} == {"auth.lockout"}
    mine = site.trail(user_id=busy.ids["manager_id"])
    assert mine and {e["user_id"] for e in mine} == {busy.ids["manager_id"]}
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert site.trail(since=later) == []
    assert len(site.trail(since="2000-01-01T00:00:00Z", limit="1000")) == len(everything)
    page = site.trail(after=str(everything[4]["seq"]), limit="3")
    assert page == everything[5:8]
    for bad in (
        "since=yesterday",
        "since=2030-01-01",
        "limit=0",
        "limit=1001",
        "type=Auth",
        "after=-1",
    ):
        r = site.call("GET", f"/audit?{bad}", site.admin)
        name = bad.split("=")[0]
        assert (r.status_code, r.json()["error"]) == (422, "invalid_query"), bad
        assert name in r.json()["fields"], bad


def test_only_admins_read_the_trail_and_only_their_own_sites(stack: Stack, busy: Busy) -> None:
    site = busy.site
    _, username, password = site.user("manager")
    r = site.call("GET", "/audit", site.login(username, password))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    other = OwnSite.make(stack)
    theirs = other.trail(limit="1000")
    ours = {e["id"] for e in site.trail(limit="1000")}
    assert theirs and not ours & {e["id"] for e in theirs}
    assert not set(busy.ids.values()) & set(json.dumps(theirs).split('"'))


def test_a_purge_leaves_the_trail_alone(busy: Busy) -> None:
    """Ten years on, every stored answer is gone; not one audit entry is."""
    site = busy.site
    before = site.trail(limit="1000")
    far = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = site.stack.cli("purge", "--as-of", far)
    assert result.returncode == 0, result.stderr
    after = site.trail(limit="1000")
    assert after[: len(before)] == before
    # (The purge audits what it removed; other tests may have purged this site already.)
    assert {e["type"] for e in after[len(before) :]} <= {"retention.purged"}
    assert site.verify("--site", site.site_id)[0] == 0


# -- tampering -------------------------------------------------------------------------------


def _rows(stack: Stack, site_id: str) -> list[Any]:
    engine = stack.engines()["app"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM audit_events WHERE site_id = :s ORDER BY seq"), {"s": site_id}
        ).all()
    engine.dispose()
    return list(rows)


def test_audit_verify_names_a_deleted_altered_or_moved_entry(stack: Stack) -> None:
    site = OwnSite.make(stack)
    for _ in range(3):
        site.user("agent")
    code, out, _ = site.verify()
    assert code == 0 and json.loads(out)["ok"] is True, out
    rows = _rows(stack, site.site_id)
    victim = rows[2]
    columns = victim._mapping
    # The database itself refuses the change while the guard is in place.
    engine = stack.engines()["app"]
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": victim.id})
    engine.dispose()

    def broken(expect_id: str | None, words: str) -> None:
        code, out, err = site.verify("--site", site.site_id)
        assert code != 0, out
        report = json.loads(out)
        assert report["ok"] is False and report["site_id"] == site.site_id
        assert report["entry_id"] == expect_id and words in report["reason"]
        assert site.site_id in err and (expect_id is None or expect_id in err)
        assert stack.cli("audit", "verify", check=False).returncode != 0  # the whole trail too

    try:
        with unguarded(stack) as conn:
            conn.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": victim.id})
        broken(rows[3].id, "missing")
        with unguarded(stack) as conn:
            conn.execute(
                sa.insert(sa.table("audit_events", *map(sa.column, columns))).values(**columns)
            )
        assert site.verify("--site", site.site_id)[0] == 0  # put back as it was: whole again

        with unguarded(stack) as conn:
            conn.execute(
                sa.text("UPDATE audit_events SET outcome = 'failure' WHERE id = :i"),
                {"i": victim.id},
            )
        broken(victim.id, "altered")
        with unguarded(stack) as conn:
            conn.execute(
                sa.text("UPDATE audit_events SET outcome = :o WHERE id = :i"),
                {"o": victim.outcome, "i": victim.id},
            )

        a, b = rows[1], rows[2]
        with unguarded(stack) as conn:
            for entry_id, seq in ((a.id, -1), (b.id, a.seq), (a.id, b.seq)):
                conn.execute(
                    sa.text("UPDATE audit_events SET seq = :s WHERE id = :i"),
                    {"s": seq, "i": entry_id},
                )
        broken(b.id, "does not follow")
    finally:
        restore = _rows(stack, site.site_id)
        with unguarded(stack) as conn:
            by_id = {r.id: r.seq for r in rows}
            for row in restore:
                if row.seq != by_id.get(row.id, row.seq):
                    conn.execute(
                        sa.text("UPDATE audit_events SET seq = :s WHERE id = :i"),
                        {"s": -by_id[row.id], "i": row.id},
                    )
            conn.execute(sa.text("UPDATE audit_events SET seq = -seq WHERE seq < 0"))
    code, out, _ = site.verify()
    assert code == 0, out


def test_the_last_entry_deleted_is_caught_by_the_head(stack: Stack) -> None:
    site = OwnSite.make(stack)
    site.user("agent")
    last = _rows(stack, site.site_id)[-1]
    try:
        with unguarded(stack) as conn:
            conn.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": last.id})
        code, out, err = site.verify("--site", site.site_id)
        assert code != 0 and "removed" in json.loads(out)["reason"], out
        assert f"#{last.seq}" in err
    finally:
        with unguarded(stack) as conn:
            columns = last._mapping
            conn.execute(
                sa.insert(sa.table("audit_events", *map(sa.column, columns))).values(**columns)
            )
    assert site.verify()[0] == 0
