"""The audit trail on SQLite and PostgreSQL: chained appends, the database's append-only
guard, concurrent appends, and verification naming the first deleted, altered or moved
entry."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from core import audit
from core.actors import Actor
from core.clock import utcnow
from core.runtime import Runtime
from core.schema import audit_events, audit_heads


@pytest.fixture(autouse=True)
def _cli_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries recorded outside a request say "cli" here, whatever an earlier test of this
    process imported (importing workers.app makes the process a worker's)."""
    monkeypatch.setattr(audit, "_process_origin", "cli")


def _fill(rt: Runtime, site_id: str, n: int) -> list[dict[str, object]]:
    for i in range(n):
        audit.record(rt, site_id=site_id, type="test.event", user_id=f"u{i}", resource=f"thing:{i}")
    return audit.list_events(rt, site_id, type="test.event", limit=1000)


@contextmanager
def _unguarded(rt: Runtime) -> Iterator[Connection]:
    """A connection that can change the trail, as someone with the database's keys could:
    the append-only triggers are set aside for the block and put back after it."""
    with rt.app_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            yield conn
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            return
        kept = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type='trigger' AND tbl_name='audit_events'"
            )
        ).all()
        assert len(kept) == 2
        for name, _sql in kept:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        yield conn
        for _name, sql in kept:
            conn.execute(text(sql))


def _problem(rt: Runtime, site_id: str) -> audit.Problem:
    result = audit.verify(rt, site_id)
    assert not result.ok
    assert result.problem is not None
    return result.problem


def test_entries_chain_in_order_and_verify(any_rt: Runtime, new_site: Callable[..., Actor]) -> None:
    site = new_site(any_rt)
    events = _fill(any_rt, site.site_id, 5)
    everything = audit.list_events(any_rt, site.site_id)
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    assert [e["resource"] for e in events] == [f"thing:{i}" for i in range(5)]
    assert {e["origin"] for e in events} == {"cli"}
    result = audit.verify(any_rt, site.site_id)
    assert result.ok and result.entries == len(everything)
    with any_rt.app_engine.connect() as conn:
        rows = conn.execute(
            select(audit_events)
            .where(audit_events.c.site_id == site.site_id)
            .order_by(audit_events.c.seq)
        ).all()
        head = conn.execute(select(audit_heads).where(audit_heads.c.site_id == site.site_id)).one()
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash)
    assert result.heads[site.site_id] == head.hash


def test_each_site_has_a_chain_of_its_own(any_rt: Runtime, new_site: Callable[..., Actor]) -> None:
    one, two = new_site(any_rt), new_site(any_rt)
    _fill(any_rt, one.site_id, 3)
    _fill(any_rt, two.site_id, 1)
    assert all(e["resource"] != "thing:2" for e in audit.list_events(any_rt, two.site_id))
    first_of_two = audit.list_events(any_rt, two.site_id)[0]
    assert first_of_two["seq"] == 1
    assert audit.verify(any_rt, one.site_id).ok and audit.verify(any_rt, two.site_id).ok


def test_the_database_refuses_to_change_or_delete_entries(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    site = new_site(any_rt)
    _fill(any_rt, site.site_id, 1)
    mine = audit_events.c.site_id == site.site_id
    for statement in (
        update(audit_events).where(mine).values(outcome="failure"),
        delete(audit_events).where(mine),
    ):
        with pytest.raises(DBAPIError, match="append-only"), any_rt.app_engine.begin() as conn:
            conn.execute(statement)
    assert audit.verify(any_rt, site.site_id).ok


def test_a_deleted_entry_is_named(any_rt: Runtime, new_site: Callable[..., Actor]) -> None:
    site = new_site(any_rt)
    events = _fill(any_rt, site.site_id, 4)
    gone, after = events[1], events[2]
    with _unguarded(any_rt) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id == gone["id"]))
    problem = _problem(any_rt, site.site_id)
    assert (problem.seq, problem.entry_id) == (after["seq"], after["id"])
    assert f"#{gone['seq']} is missing" in problem.reason


def test_a_deleted_last_entry_is_named(any_rt: Runtime, new_site: Callable[..., Actor]) -> None:
    site = new_site(any_rt)
    last = _fill(any_rt, site.site_id, 3)[-1]
    with _unguarded(any_rt) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id == last["id"]))
    problem = _problem(any_rt, site.site_id)
    assert problem.seq == last["seq"]
    assert "removed" in problem.reason


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "failure"},
        {"user_id": "someone-else"},
        {"resource": "thing:innocent"},
        {"type": "test.other"},
        {"origin": "10.0.0.1"},
        {"at": utcnow() - timedelta(days=1)},
    ],
    ids=lambda c: next(iter(c)),
)
def test_an_altered_entry_is_named(
    any_rt: Runtime, new_site: Callable[..., Actor], change: dict[str, object]
) -> None:
    site = new_site(any_rt)
    victim = _fill(any_rt, site.site_id, 3)[1]
    with _unguarded(any_rt) as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == victim["id"]).values(**change))
    problem = _problem(any_rt, site.site_id)
    assert (problem.seq, problem.entry_id) == (victim["seq"], victim["id"])
    assert "altered" in problem.reason


def test_swapped_entries_are_named(any_rt: Runtime, new_site: Callable[..., Actor]) -> None:
    site = new_site(any_rt)
    events = _fill(any_rt, site.site_id, 4)
    a, b = events[1], events[2]
    with _unguarded(any_rt) as conn:
        # Swap their places in the chain (the unique (site, seq) needs a stopover).
        for entry_id, seq in ((a["id"], -1), (b["id"], a["seq"]), (a["id"], b["seq"])):
            conn.execute(update(audit_events).where(audit_events.c.id == entry_id).values(seq=seq))
    problem = _problem(any_rt, site.site_id)
    assert (problem.seq, problem.entry_id) == (a["seq"], b["id"])


def test_a_rewritten_entry_with_its_own_hash_breaks_the_next_link(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    """Recomputing the altered entry's hash is not enough: the next entry names it."""
    site = new_site(any_rt)
    events = _fill(any_rt, site.site_id, 3)
    victim, after = events[1], events[2]
    with any_rt.app_engine.connect() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.id == victim["id"])).one()
    forged = {c: getattr(row, c) for c in ("id", "site_id", "seq", "at", "type", "user_id")}
    forged |= {"outcome": "failure", "origin": row.origin, "resource": row.resource}
    with _unguarded(any_rt) as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.id == victim["id"])
            .values(outcome="failure", hash=audit.entry_hash(forged, row.prev_hash))
        )
    problem = _problem(any_rt, site.site_id)
    assert (problem.seq, problem.entry_id) == (after["seq"], after["id"])


def test_concurrent_appends_make_one_unbroken_chain(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    site = new_site(any_rt)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(15):
                audit.record(
                    any_rt, site_id=site.site_id, type="test.race", resource=f"{worker}:{i}"
                )
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = audit.list_events(any_rt, site.site_id, type="test.race", limit=1000)
    assert len(events) == 8 * 15
    assert len({e["resource"] for e in events}) == 8 * 15
    assert audit.verify(any_rt, site.site_id).ok


def test_origin_comes_from_the_request_context_then_the_process(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    site = new_site(rt)
    token = audit.current_origin.set("203.0.113.7")
    try:
        audit.record(rt, site_id=site.site_id, type="test.origin", resource="request")
    finally:
        audit.current_origin.reset(token)
    audit.record(rt, site_id=site.site_id, type="test.origin", resource="process")
    audit.record(rt, site_id=site.site_id, type="test.origin", resource="given", origin="worker")
    origins = {e["resource"]: e["origin"] for e in audit.list_events(rt, site.site_id)}
    assert origins["request"] == "203.0.113.7"
    assert origins["process"] == "cli"
    assert origins["given"] == "worker"


def test_entries_need_a_site_a_dotted_type_and_a_known_outcome(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    site = new_site(rt)
    for bad in (
        {"site_id": "", "type": "test.event"},
        {"site_id": site.site_id, "type": "nodot"},
        {"site_id": site.site_id, "type": "Test.Upper"},
        {"site_id": site.site_id, "type": "test.event", "outcome": "maybe"},
    ):
        with pytest.raises(ValueError):
            audit.record(rt, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        audit.list_events(rt, "")


def test_filters_by_time_type_family_user_and_position(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    site = new_site(rt)
    before = utcnow()  # after the site's own first entry
    audit.record(rt, site_id=site.site_id, type="auth.login", user_id="u1")
    audit.record(rt, site_id=site.site_id, type="auth.lockout", user_id="u1")
    audit.record(rt, site_id=site.site_id, type="form.sent", user_id="u2")
    everything = audit.list_events(rt, site.site_id)
    assert [e["type"] for e in audit.list_events(rt, site.site_id, type="auth.login")] == [
        "auth.login"
    ]
    family = audit.list_events(rt, site.site_id, type="auth.")
    assert [e["type"] for e in family] == ["auth.login", "auth.lockout"]
    assert {e["user_id"] for e in audit.list_events(rt, site.site_id, user_id="u2")} == {"u2"}
    assert audit.list_events(rt, site.site_id, since=utcnow() + timedelta(hours=1)) == []
    assert len(audit.list_events(rt, site.site_id, since=before)) == 3
    page = audit.list_events(rt, site.site_id, after=everything[-2]["seq"])
    assert page == everything[-1:]
    assert len(audit.list_events(rt, site.site_id, limit=2)) == 2


def test_the_encoding_covers_every_field_and_the_link(rt: Runtime) -> None:
    entry = {
        "id": "e1",
        "site_id": "s1",
        "seq": 7,
        "at": utcnow(),
        "type": "auth.login",
        "outcome": "success",
        "user_id": "u1",
        "origin": "127.0.0.1",
        "resource": "user:u1",
    }
    base = audit.entry_hash(entry, audit.GENESIS)
    assert audit.entry_hash(dict(entry), audit.GENESIS) == base
    assert audit.entry_hash(entry, "1" * 64) != base
    for name, other in (
        ("id", "e2"),
        ("site_id", "s2"),
        ("seq", 8),
        ("at", entry["at"] + timedelta(microseconds=1)),  # type: ignore[operator]
        ("type", "auth.logout"),
        ("outcome", "failure"),
        ("user_id", None),
        ("origin", "cli"),
        ("resource", None),
    ):
        assert audit.entry_hash({**entry, name: other}, audit.GENESIS) != base, name
