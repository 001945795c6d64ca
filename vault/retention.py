"""Retention: delete what is past its date in bounded batches, then shred its data keys.

Each batch is its own transaction, so a worker killed mid-purge leaves a consistent
store and the next run simply carries on. Memory stays bounded by the batch size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from vault.datakeys import period_of
from vault.schema import submissions
from vault.store import VaultStore

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class PurgeResult:
    as_of: datetime
    dry_run: bool
    deleted_by_site: Counter[str] = field(default_factory=Counter)
    data_keys_destroyed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def deleted(self) -> int:
        return sum(self.deleted_by_site.values())


def _expired(as_of: datetime):  # type: ignore[no-untyped-def]
    return submissions.c.expires_at <= as_of


def purge_expired(
    store: VaultStore,
    as_of: datetime,
    *,
    batch: int = 1000,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PurgeResult:
    result = PurgeResult(as_of=as_of, dry_run=dry_run)
    with store.engine.connect() as conn:
        counts = conn.execute(
            select(submissions.c.site_id, func.count())
            .where(_expired(as_of))
            .group_by(submissions.c.site_id)
        ).all()
    total = sum(int(c) for _, c in counts)
    if dry_run:
        result.deleted_by_site.update({str(site): int(c) for site, c in counts})
        result.data_keys_destroyed = _shreddable(store, as_of, ignore_expired=True)
        return result
    done = 0
    if progress:
        progress(0, total)
    while True:
        with store.engine.begin() as conn:
            rows = conn.execute(
                select(submissions.c.id, submissions.c.site_id)
                .where(_expired(as_of))
                .order_by(submissions.c.expires_at)
                .limit(batch)
            ).all()
            if not rows:
                break
            conn.execute(delete(submissions).where(submissions.c.id.in_([r.id for r in rows])))
        result.deleted_by_site.update(r.site_id for r in rows)
        done += len(rows)
        if progress:
            progress(done, max(total, done))
    result.data_keys_destroyed = _shreddable(store, as_of, ignore_expired=False)
    store.data_keys.destroy(key_id for key_id, _site, _period in result.data_keys_destroyed)
    return result


def _shreddable(
    store: VaultStore, as_of: datetime, *, ignore_expired: bool
) -> list[tuple[str, str, str]]:
    """Data keys of months before `as_of` that no (remaining) submission needs.

    Never the current month's or later, even for an `as_of` in the future: writers are
    still sealing with those keys.
    """
    query = select(submissions.c.data_key_id).where(submissions.c.data_key_id.is_not(None))
    if ignore_expired:  # a dry run: rows past retention count as gone
        query = query.where(submissions.c.expires_at > as_of)
    with store.engine.connect() as conn:
        needed = {r[0] for r in conn.execute(query.distinct())}
    return [
        (key_id, site_id, period)
        for key_id, site_id, period in store.data_keys.active(
            before_period=min(period_of(as_of), period_of(datetime.now(UTC)))
        )
        if key_id not in needed
    ]
