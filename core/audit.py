"""The audit trail (PCI-DSS 10.2): append-only, hash-chained, one chain per site.

Each entry says who (user id), what (a dotted type such as "auth.login"), when, with
which outcome, from where (the client address, "cli" or "worker") and on which resource
(ids only). It never holds a submitted value.

Why one chain per site rather than one for the whole installation: every entry belongs to
exactly one site (there is no unscoped data), a site's trail can be exported and verified
on its own, and appends of different sites never wait on one another. Within a site,
appends serialize on the site's head row in `audit_heads`: the UPDATE that bumps its
sequence number is the append's first write, so it is the lock on PostgreSQL (row lock)
and on SQLite (the database write lock), and two appends can never chain onto the same
predecessor.

Entry n stores prev_hash (entry n-1's hash; 64 zeros for the first) and
hash = SHA-256(canonical encoding of its fields + prev_hash). `verify` recomputes every
chain and names the first entry that is missing, altered or out of place; the head row
(last sequence number and hash) catches a deleted last entry. Triggers (migration a0002)
refuse UPDATE and DELETE on the table; someone who can drop them *and* rewrite the whole
chain and its head could still forge it, which is why `secureforms audit verify` prints
each head hash for the operator to keep elsewhere. Nothing in the product deletes audit
rows: they outlive every retention setting.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine

from core.clock import aware, rfc3339, utcnow
from core.schema import audit_events, audit_heads

GENESIS = "0" * 64
FORMAT = "sf-audit-1"
SUCCESS, FAILURE = "success", "failure"
OUTCOMES = (SUCCESS, FAILURE)
MAX_RESOURCE = 500
_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")

# Set by the api dispatcher to the client's address for each request (run_in_threadpool
# copies the context, so the handler's thread sees it); unset elsewhere.
current_origin: ContextVar[str | None] = ContextVar("current_origin", default=None)
_process_origin = "cli"


class _HasAppEngine(Protocol):
    @property
    def app_engine(self) -> Engine: ...


def set_process_origin(origin: str) -> None:
    """What a process records as origin outside a request ("cli" unless told, "worker")."""
    global _process_origin
    _process_origin = origin


def record(
    rt: _HasAppEngine,
    *,
    site_id: str,
    type: str,
    outcome: str = SUCCESS,
    user_id: str | None = None,
    resource: str | None = None,
    origin: str | None = None,
    conn: Connection | None = None,
) -> None:
    """Append one entry to the site's chain (in `conn`'s transaction when given)."""
    if not site_id:
        raise ValueError("an audit entry always belongs to one site")
    if not _TYPE.match(type) or len(type) > 64:
        raise ValueError(f"audit type must be dotted lowercase words, not {type!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    where = (origin or current_origin.get() or _process_origin)[:64]
    what = resource[:MAX_RESOURCE] if resource is not None else None
    if conn is None:
        with rt.app_engine.begin() as own:
            _append(own, site_id, type, outcome, user_id, what, where)
        return
    _append(conn, site_id, type, outcome, user_id, what, where)


def record_many(
    conn: Connection,
    *,
    site_id: str,
    type: str,
    resources: Sequence[str],
    origin: str,
) -> None:
    """Entries of one type, appended in order to the site's chain in `conn`'s transaction:
    three statements however many (the worker records one per submission of a batch)."""
    if not resources:
        return
    if not site_id or not _TYPE.match(type) or len(type) > 64:
        raise ValueError("an audit entry needs its site and a dotted lowercase type")
    count = len(resources)
    # As in _append, the write first: it takes the site's lock before anything is read.
    head = conn.execute(_BUMP_HEAD_BY, {"b_site": site_id, "b_count": count}).first()
    if head is None:
        _append(conn, site_id, type, SUCCESS, None, resources[0][:MAX_RESOURCE], origin[:64])
        record_many(conn, site_id=site_id, type=type, resources=resources[1:], origin=origin)
        return
    first, prev_hash = int(head.seq) - count + 1, str(head.hash)
    rows = []
    for offset, resource in enumerate(resources):
        entry = {
            "id": str(uuid.uuid4()),
            "site_id": site_id,
            "seq": first + offset,
            "at": utcnow(),
            "type": type,
            "outcome": SUCCESS,
            "user_id": None,
            "origin": origin[:64],
            "resource": resource[:MAX_RESOURCE],
        }
        digest = entry_hash(entry, prev_hash)
        rows.append({**entry, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    conn.execute(_INSERT_EVENT, rows)
    conn.execute(_SET_HEAD_HASH, {"b_site": site_id, "b_seq": int(head.seq), "b_hash": prev_hash})


def _append(
    conn: Connection,
    site_id: str,
    type: str,
    outcome: str,
    user_id: str | None,
    resource: str | None,
    origin: str,
) -> None:
    # The write comes first: it takes the site's lock before anything is read.
    head = conn.execute(_BUMP_HEAD, {"b_site": site_id}).first()
    if head is None:
        # The site's first entry (made in the site's own creating transaction, or the first
        # after migration a0002 made heads for older sites): nobody else can race for it.
        conn.execute(insert(audit_heads).values(site_id=site_id, seq=1, hash=GENESIS))
        seq, prev_hash = 1, GENESIS
    else:
        seq, prev_hash = int(head.seq), str(head.hash)
    entry = {
        "id": str(uuid.uuid4()),
        "site_id": site_id,
        "seq": seq,
        "at": utcnow(),
        "type": type,
        "outcome": outcome,
        "user_id": user_id,
        "origin": origin,
        "resource": resource,
    }
    digest = entry_hash(entry, prev_hash)
    conn.execute(_INSERT_EVENT, {**entry, "prev_hash": prev_hash, "hash": digest})
    conn.execute(_SET_HEAD_HASH, {"b_site": site_id, "b_seq": seq, "b_hash": digest})


# Built once: an audit entry rides along with nearly every write, and building these
# statements costs more CPU than SQLite spends running them.
_BUMP_HEAD = (
    update(audit_heads)
    .where(audit_heads.c.site_id == bindparam("b_site"))
    .values(seq=audit_heads.c.seq + 1)
    .returning(audit_heads.c.seq, audit_heads.c.hash)
)
_BUMP_HEAD_BY = (
    update(audit_heads)
    .where(audit_heads.c.site_id == bindparam("b_site"))
    .values(seq=audit_heads.c.seq + bindparam("b_count"))
    .returning(audit_heads.c.seq, audit_heads.c.hash)
)
_INSERT_EVENT = insert(audit_events)
_SET_HEAD_HASH = (
    update(audit_heads)
    .where(audit_heads.c.site_id == bindparam("b_site"), audit_heads.c.seq == bindparam("b_seq"))
    .values(hash=bindparam("b_hash"))
)


def _at_text(moment: datetime) -> str:
    return aware(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: dict[str, Any], prev_hash: str) -> bytes:
    """The exact bytes an entry's hash covers: a JSON list in a fixed field order."""
    return json.dumps(
        [
            FORMAT,
            entry["id"],
            entry["site_id"],
            int(entry["seq"]),
            _at_text(entry["at"]),
            entry["type"],
            entry["outcome"],
            entry["user_id"],
            entry["origin"],
            entry["resource"],
            prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def entry_hash(entry: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical(entry, prev_hash)).hexdigest()


# -- reading --------------------------------------------------------------------------------


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": int(row.seq),
        "at": rfc3339(row.at),
        "type": row.type,
        "user_id": row.user_id,
        "outcome": row.outcome,
        "origin": row.origin,
        "resource": row.resource,
    }


def list_events(
    rt: _HasAppEngine,
    site_id: str,
    *,
    since: datetime | None = None,
    type: str | None = None,
    user_id: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """A site's entries in chain order. `type` ending in "." matches a family ("auth.")."""
    if not site_id:
        raise ValueError("audit reads are always scoped to one site")
    query = select(audit_events).where(audit_events.c.site_id == site_id)
    if after:
        query = query.where(audit_events.c.seq > after)
    if since is not None:
        query = query.where(audit_events.c.at >= since)
    if type:
        if type.endswith("."):
            query = query.where(audit_events.c.type.startswith(type, autoescape=True))
        else:
            query = query.where(audit_events.c.type == type)
    if user_id:
        query = query.where(audit_events.c.user_id == user_id)
    with rt.app_engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_events.c.seq).limit(limit)).all()
    return [public(r) for r in rows]


# -- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    site_id: str
    seq: int
    entry_id: str | None
    reason: str

    def __str__(self) -> str:
        entry = f"entry #{self.seq}" + (f" (id {self.entry_id})" if self.entry_id else "")
        return f"site {self.site_id}, {entry}: {self.reason}"


@dataclass(frozen=True)
class Verification:
    sites: int
    entries: int
    heads: dict[str, str]  # site id -> the last entry's hash, to keep somewhere else
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(rt: _HasAppEngine, site_id: str | None = None) -> Verification:
    """Recompute every chain (or one site's); stop at the first bad entry."""
    entries = 0
    heads: dict[str, str] = {}
    with rt.app_engine.connect() as conn:
        if site_id is not None:
            site_ids = [site_id]
        else:
            site_ids = sorted(
                set(conn.execute(select(audit_heads.c.site_id)).scalars())
                | set(conn.execute(select(audit_events.c.site_id).distinct()).scalars())
            )
        for sid in site_ids:
            checked, last_hash, problem = _verify_site(conn, sid)
            entries += checked
            if problem is not None:
                return Verification(len(site_ids), entries, heads, problem)
            heads[sid] = last_hash
    return Verification(len(site_ids), entries, heads)


def _verify_site(conn: Connection, site_id: str) -> tuple[int, str, Problem | None]:
    # The head is read first and the walk stops at it, so entries appended while the walk
    # runs are left for the next verification instead of looking like a broken end.
    head = conn.execute(select(audit_heads).where(audit_heads.c.site_id == site_id)).first()
    if head is None:
        stray = conn.execute(
            select(audit_events.c.seq, audit_events.c.id)
            .where(audit_events.c.site_id == site_id)
            .order_by(audit_events.c.seq)
            .limit(1)
        ).first()
        if stray is None:
            return 0, GENESIS, None
        return 0, GENESIS, Problem(site_id, stray.seq, stray.id, "the chain's head is missing")
    head_seq = int(head.seq)
    rows = conn.execution_options(yield_per=1000).execute(
        select(audit_events)
        .where(audit_events.c.site_id == site_id, audit_events.c.seq <= head_seq)
        .order_by(audit_events.c.seq)
    )
    try:
        return _walk(site_id, head_seq, head.hash, rows)
    finally:
        rows.close()  # a walk that stops early must not leave a server-side cursor open


def _walk(
    site_id: str, head_seq: int, head_hash: str, rows: Iterable[Any]
) -> tuple[int, str, Problem | None]:
    prev, expected = GENESIS, 1
    for row in rows:
        seq = int(row.seq)
        if seq != expected:
            reason = f"entry #{expected} is missing: the chain jumps from #{expected - 1} to #{seq}"
            return expected - 1, prev, Problem(site_id, seq, row.id, reason)
        entry = {c: getattr(row, c) for c in ("id", "site_id", "seq", "at", "type")}
        entry |= {c: getattr(row, c) for c in ("outcome", "user_id", "origin", "resource")}
        if row.prev_hash != prev:
            reason = (
                "does not follow the entry before it (its prev_hash differs): an entry "
                "before it was removed, replaced or moved"
            )
            return expected - 1, prev, Problem(site_id, seq, row.id, reason)
        if entry_hash(entry, prev) != row.hash:
            reason = "its contents do not match its hash: the entry was altered"
            return expected - 1, prev, Problem(site_id, seq, row.id, reason)
        prev, expected = str(row.hash), expected + 1
    last = expected - 1
    if last != head_seq:
        reason = (
            f"the chain ends at #{last} but its head says #{head_seq}: "
            f"the last {head_seq - last} entries were removed"
        )
        return last, prev, Problem(site_id, last + 1, None, reason)
    if head_hash != prev:
        reason = "the last entry is not the one the head recorded: it was replaced"
        return last, prev, Problem(site_id, last, None, reason)
    return last, prev, None
